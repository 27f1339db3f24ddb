"""How many threads training uses: chosen by timing, never by counting cores.

Why: on a shared machine a second thread only helps when a second core is actually free.
Training at the paper model's size synchronises its threads hundreds of times a second,
so one descheduled thread stalls the others: measured on a busy 2-core machine, two
threads took 16-65 s where one took 10 s. ``choose_threads`` times the real work (a few
training steps on scratch copies) with each candidate thread count, in alternating
rounds, and keeps the one with the lowest median, more threads only by a clear margin. The
choice is cached per process and per shape of work, so it costs a few dozen steps once.

The chooser cannot see load that arrives later; a caller who knows better passes
``threads=`` to ``train_many`` (or sets ``COINCAST_TORCH_THREADS``, the upper bound).
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

__all__ = ["ThreadChoice", "cached_choices", "choose_threads", "forget_choices", "using_threads"]

_lock = threading.Lock()
_choices: dict[Hashable, ThreadChoice] = {}


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count chosen and the median seconds each candidate measured."""

    threads: int
    seconds: dict[int, float]
    cached: bool = False


@contextmanager
def using_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` for the block, then restored."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)


def choose_threads(
    key: Hashable,
    trial: Callable[[int, int], None],
    candidates: Sequence[int],
    rounds: int = 3,
    steps: int = 4,
    clock: Callable[[], float] = time.perf_counter,
) -> ThreadChoice:
    """The candidate whose ``trial(n, steps)`` ran fastest (median of rounds), cached by key.

    ``trial(n, k)`` does k units of the work with n threads (it sets them itself; torch's
    count is restored afterwards). A one-unit warm-up per candidate is not timed
    (first-call allocations); its time sets ``steps`` so that a sample lasts at least
    ``MIN_TRIAL_S``. Candidates alternate within each round, so a burst of load from
    another process falls on all of them alike. More threads are chosen only when their
    median is ``MORE_THREADS_MARGIN`` times better; ties go to the fewest threads.
    Once a round leaves one candidate ahead by more than ``DECISIVE`` in every round so
    far, the rest are skipped: on a busy machine the slow candidate is the expensive one
    to keep timing, and the calibration must stay a small part of a training run.
    """
    options = sorted(set(candidates))
    if len(options) == 1:
        return ThreadChoice(options[0], {})
    with _lock:
        known = _choices.get(key)
    if known is not None:
        return ThreadChoice(known.threads, known.seconds, cached=True)
    times: dict[int, list[float]] = {n: [] for n in options}
    before = torch.get_num_threads()
    try:
        warm = []
        for n in options:
            t0 = clock()
            trial(n, 1)
            warm.append(clock() - t0)
        if min(warm) > 0:  # long enough to span several of the scheduler's time slices
            steps = max(steps, math.ceil(MIN_TRIAL_S / min(warm)))
        for r in range(rounds):
            # Alternate the order too, so neither candidate always runs right after the other.
            for n in options if r % 2 == 0 else options[::-1]:
                t0 = clock()
                trial(n, steps)
                times[n].append(clock() - t0)
            if _decided(times):
                break
    finally:
        torch.set_num_threads(before)
    seconds = {n: statistics.median(ts) for n, ts in times.items()}
    best = options[0]
    for n in options[1:]:
        if seconds[n] * MORE_THREADS_MARGIN < seconds[best]:
            best = n
    choice = ThreadChoice(best, seconds)
    with _lock:
        _choices[key] = choice
    return choice


DECISIVE = 1.25  # a candidate this much slower in every round so far is not timed again
# More threads must win by this much. The calibration is a few short samples and the run
# is long; on a busy machine a lucky sample made 2 threads look faster in one benchmark
# round in three, and then the whole run took 1.9x as long as on 1 thread. A true win
# (1.5x on this 2-core machine when quiet) clears the margin easily.
MORE_THREADS_MARGIN = 1.1
# Each timed sample lasts at least this long (steps are added for small work): 4 steps of
# the paper model took ~4 ms, about one time slice, so a sample could miss the load.
MIN_TRIAL_S = 0.05


def _decided(times: dict[int, list[float]]) -> bool:
    """True when the fastest candidate's slowest round beats every other one's fastest
    round by ``DECISIVE``: more rounds could not change the order of the medians."""
    worst_of_best = min(max(ts) for ts in times.values())
    others = sorted(min(ts) for ts in times.values())
    return len(others) > 1 and others[1] > DECISIVE * worst_of_best


def cached_choices() -> dict[Hashable, ThreadChoice]:
    """The choices made so far in this process, by key (for benchmarks and diagnostics)."""
    with _lock:
        return dict(_choices)


def forget_choices() -> None:
    """Drop the cached choices (a benchmark that changes the machine's load between runs)."""
    with _lock:
        _choices.clear()
