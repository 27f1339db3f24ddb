"""Refusing a panel whose coins' days follow different daily conventions.

CoinGecko (the product's source) dates day D with its 00:00 UTC snapshot, about the close
of D-1; CoinMarketCap and Yahoo date D with the close at 23:59 UTC of D. A close-convention
coin beside CoinGecko's bitcoin is one day ahead of it: its row-D return is bitcoin's
row-(D+1) return, so the global model's bitcoin and market inputs at an origin would carry
tomorrow's move into another coin's forecast. That is a look-ahead, and the benchmark
numbers it produces look like skill (``docs/accuracy.md``, "Global model").

The test: over the days before each coin's test period, the correlation of the coin's
return with bitcoin's return one day *later* against the same day's. Liquid coins move
with bitcoin on the same day (0.3-0.95 on the shared files once aligned) and hardly with
its next day (|corr| < 0.1); a shifted file shows the reverse (0.3-0.95 against ~0). A coin
is refused when, over at least ``MIN_DAYS`` common days, the next-day correlation is at
least ``MIN_LEAD_CORR`` and exceeds the same day's by ``Z`` standard errors of a
difference of two correlations near 0 (``sqrt(2 / days)``), and by ``MARGIN`` at least.
Why a standard error and not a fixed gap: a long history dilutes both correlations with
its thin early years (dogecoin since 2013, shifted: 0.29 next day against 0.14 same day
over 3,980 days, a gap of 6.7 standard errors), while on a short one a fixed gap is noise
(over 180 independent days the gap's standard error is 0.105; ``Z`` = 5 asks for 0.53).

Only this direction is refused. A coin that follows bitcoin one day later (its return at D
correlating with bitcoin's at D-1) is no look-ahead in the inputs' convention and is
exactly what a cross-coin model is meant to learn; it is not refused. Bitcoin is the
reference because the panel requires it and the product stores it in CoinGecko's
convention.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coincast.errors import DataError

__all__ = ["MARGIN", "MIN_DAYS", "MIN_LEAD_CORR", "Z", "Lead", "check_alignment", "leads"]

MIN_DAYS = 180
MIN_LEAD_CORR = 0.2
MARGIN = 0.1
Z = 5.0


@dataclass(frozen=True)
class Lead:
    """One coin against bitcoin: correlations on ``days`` common days."""

    coin: str
    same_day: float  # corr(r_coin[t], r_btc[t])
    next_day: float  # corr(r_coin[t], r_btc[t + 1])
    days: int

    @property
    def ahead(self) -> bool:
        """True when the coin's rows look one day ahead of bitcoin's."""
        if self.days < MIN_DAYS or not self.next_day >= MIN_LEAD_CORR:
            return False
        gap = self.next_day - self.same_day
        return gap >= MARGIN and gap >= Z * math.sqrt(2.0 / self.days)


def _corr(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    sa, sb = float(np.std(a)), float(np.std(b))
    if sa == 0 or sb == 0:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def leads(
    ret: NDArray[np.float64],
    coins: tuple[str, ...],
    btc: str,
    stop: Mapping[str, int],
) -> list[Lead]:
    """Every coin but ``btc`` against it.

    ret: [T, C] log returns on one calendar (NaN where absent). ``stop[coin]`` is the first
    grid row not to look at (the coin's test period): only days t with t + 1 < stop count.
    """
    k = coins.index(btc)
    out = []
    for j, coin in enumerate(coins):
        if j == k:
            continue
        t = np.arange(max(0, min(stop[coin], len(ret)) - 1))
        r, same, nxt = ret[t, j], ret[t, k], ret[t + 1, k]
        ok = np.isfinite(r) & np.isfinite(same) & np.isfinite(nxt)
        n = int(ok.sum())
        if n < 3:
            out.append(Lead(coin, np.nan, np.nan, n))
            continue
        out.append(Lead(coin, _corr(r[ok], same[ok]), _corr(r[ok], nxt[ok]), n))
    return out


def check_alignment(
    ret: NDArray[np.float64], coins: tuple[str, ...], btc: str, stop: Mapping[str, int]
) -> None:
    """Raise ``DataError`` naming every coin whose rows run one day ahead of bitcoin's."""
    bad = [lead for lead in leads(ret, coins, btc, stop) if lead.ahead]
    if not bad:
        return
    detail = "; ".join(
        f"{b.coin} {b.next_day:.2f} next day vs {b.same_day:.2f} same day over {b.days} days"
        for b in bad
    )
    names = ", ".join(b.coin for b in bad)
    raise DataError(
        f"{names}: returns move with {btc}'s one day later, not on the same day "
        f"(correlation with {btc}'s return: {detail}). Their rows look like end-of-day "
        f"closes (23:59 UTC of D, as CoinMarketCap and Yahoo date them) beside {btc}'s "
        f"CoinGecko 00:00 UTC snapshots, so the panel would put tomorrow's {btc} into "
        f"today's inputs. Import close-convention CSVs with `coincast data import --close` "
        f'(in Python: read_history_csv(path, convention="close")) and fit again.'
    )
