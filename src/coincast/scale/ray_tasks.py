"""Per-coin training as Ray tasks: local by default, a Ray cluster when one is configured.

Ray is the ML field's standard engine for this, so coincast does not grow its own
scheduler: ``ray.init()`` starts a local runtime with the machine's cores, or joins
the cluster at ``COINCAST_RAY_ADDRESS`` (``Settings.ray_address``, e.g. ``ray://head:10001``
or ``auto``). Every machine of a cluster needs coincast installed (``pip install
'coincast[scale]'``).

Why tasks get data and return bytes: workers on other machines cannot read this
machine's SQLite store, so the driver reads each history, ships it with the task, and
gets back the TF.js model files; the caller saves each result as it arrives
(``on_result``), so a coin that fails later cannot take finished coins with it.

Failures: a ``CoincastError`` (too little history) is a result with ``ok=False``, never
retried; any other exception, or a worker process that dies, is retried by Ray up to
``max_retries`` times; a coin that still fails becomes ``ok=False`` with the reason.

Ray is imported only inside these functions, so ``import coincast`` stays light.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from coincast.errors import ConfigError
from coincast.scale.results import CoinResult, OnProgress, OnResult
from coincast.scale.sequential import fit_coin

__all__ = ["Job", "fit_many_ray", "import_ray", "ray_runtime", "run_tasks"]

Job = tuple[str, tuple[Any, ...], dict[str, Any]]
"""(coin, positional args, keyword args) for one task."""


def import_ray() -> Any:
    """The ``ray`` module, or a ConfigError that says how to get it."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - the dev install includes the extra
        raise ConfigError(
            "Ray is not installed. Install it with `pip install 'coincast[scale]'`, or use "
            "--engine batched (one machine, no Ray)."
        ) from exc
    return ray


@contextmanager
def ray_runtime(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Use the running Ray runtime, or start one for the block and shut it down after.

    ``address`` joins a cluster; otherwise a local runtime uses ``num_cpus`` (default:
    all cores). Usage statistics stay off: coincast never phones home.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray runtime"
        hint = (
            "Check COINCAST_RAY_ADDRESS (e.g. ray://HEAD:10001), or unset it to run locally."
            if address
            else "Check free memory and /tmp space, or use --engine batched."
        )
        raise ConfigError(f"Could not start or reach {where}: {exc}. {hint}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def _call(
    fn: Callable[..., CoinResult], threads: int, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> CoinResult:
    """Body of every task: one torch thread per task, since Ray runs one task per core."""
    import torch

    torch.set_num_threads(threads)
    return fn(*args, **kwargs)


def _describe(exc: Exception) -> str:
    """The task's own exception when there is one (Ray wraps it), else Ray's first line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def run_tasks(
    fn: Callable[..., CoinResult],
    jobs: Sequence[Job],
    *,
    max_retries: int = 2,
    torch_threads: int = 1,
    on_result: OnResult | None = None,
    on_progress: OnProgress | None = None,
) -> dict[str, CoinResult]:
    """Run ``fn(*args, **kwargs)`` per job as Ray tasks (in a running runtime).

    Results are handed to ``on_result`` in the order they finish; a job whose task
    still fails after ``max_retries`` retries (an exception or a lost worker) becomes a
    ``CoinResult(ok=False)``, and the others are unaffected.
    """
    ray = import_ray()
    remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=True)(_call)
    fn_ref = ray.put(fn)
    start = time.perf_counter()
    pending = {
        remote.remote(fn_ref, torch_threads, args, kwargs): coin for coin, args, kwargs in jobs
    }
    results: dict[str, CoinResult] = {}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            coin = pending.pop(ref)
            try:
                res = ray.get(ref)
            except ray.exceptions.RayError as exc:
                res = CoinResult(
                    coin=coin,
                    ok=False,
                    elapsed_s=time.perf_counter() - start,
                    message=f"{coin}: the training task failed {max_retries + 1} times "
                    f"({_describe(exc)}). Check the Ray worker logs (`ray logs`), then train "
                    "this coin again.",
                )
            results[coin] = res
            if on_result is not None:
                on_result(res)
            if on_progress is not None:
                on_progress(float(len(results)), f"{coin} done")
    return results


def fit_many_ray(
    histories: Mapping[str, pd.DataFrame],
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    split: Mapping[str, Any] | None = None,
    on_result: OnResult | None = None,
    on_progress: OnProgress | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    max_retries: int = 2,
) -> list[CoinResult]:
    """``fit_coin`` per coin as Ray tasks; results in the histories' order."""
    kwargs: dict[str, Any] = {"split": dict(split or {})}
    jobs: list[Job] = [
        (coin, (coin, history, preset, dict(overrides or {})), kwargs)
        for coin, history in histories.items()
    ]
    with ray_runtime(address, num_cpus):
        results = run_tasks(
            fit_coin, jobs, max_retries=max_retries, on_result=on_result, on_progress=on_progress
        )
    return [results[coin] for coin in histories]
