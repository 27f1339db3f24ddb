"""The two interval baselines every model's bands are scored beside, on the same origins.

- ``band``: a constant-width band from the empirical α/2 and 1-α/2 quantiles of the
  h-day log returns seen before the scored period, around the last price. What anyone
  could do with a spreadsheet; it ignores volatility clustering.
- ``garch``: GARCH(1,1) with standardised Student-t innovations (the ``arch`` package),
  refitted every ``refit_every`` days on the returns known at that origin; the h-day band
  is the last price · exp(± t-quantile · h-day σ) (a refit whose optimiser fails keeps
  the previous fit, so both are scored on the same origins). The textbook model, and
  what a risk forecast has to beat to be worth showing.

Both return (lower, upper) [N, H] in USD, NaN where a baseline cannot be built (too little
history), and never read a price after an origin.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from coincast.forecast.volatility import fit_garch, log_returns

__all__ = ["REFIT_EVERY", "band", "garch_t"]

REFIT_EVERY = 30


def band(
    price: NDArray[np.float64], at: NDArray[np.intp], horizon: int, alpha: float = 0.1
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Quantiles of past h-day log returns (days before the first origin + 1) → bounds."""
    p = np.asarray(price, dtype=np.float64)
    known = np.log(p[: int(at[0]) + 1]) if at.size else np.zeros(0)
    lower = np.full((at.size, horizon), np.nan)
    upper = np.full_like(lower, np.nan)
    for h in range(1, horizon + 1):
        r = known[h:] - known[:-h]
        r = r[np.isfinite(r)]
        if r.size < 20:
            continue
        lo, hi = np.quantile(r, [alpha / 2, 1 - alpha / 2])
        lower[:, h - 1] = p[at] * np.exp(lo)
        upper[:, h - 1] = p[at] * np.exp(hi)
    return lower, upper


def garch_t(
    price: NDArray[np.float64],
    at: NDArray[np.intp],
    horizon: int,
    alpha: float = 0.1,
    refit_every: int = REFIT_EVERY,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GARCH(1,1)-t bands, refitted every ``refit_every`` origins on what was known then."""
    p = np.asarray(price, dtype=np.float64)
    r = log_returns(p)
    lower = np.full((at.size, horizon), np.nan)
    upper = np.full_like(lower, np.nan)
    model = None
    for k in range(0, at.size, refit_every):
        chunk = at[k : k + refit_every]
        fitted = fit_garch(r[1 : int(chunk[0]) + 1])
        if fitted is not None and fitted.nu is not None and fitted.nu > 2:
            model = fitted  # a refit that fails keeps the last good fit, as a desk would
        if model is None or model.nu is None:
            continue
        nu = model.nu
        z = float(stats.t.ppf(1 - alpha / 2, nu)) * np.sqrt((nu - 2) / nu)  # unit variance
        s2 = model.next_variance(r[: int(chunk[-1]) + 1])[chunk]  # filtered with new days
        sd = model.horizon_scale(s2, horizon)
        lower[k : k + chunk.size] = p[chunk][:, None] * np.exp(-z * sd)
        upper[k : k + chunk.size] = p[chunk][:, None] * np.exp(z * sd)
    return lower, upper
