"""What a forecast request reuses: loaded models, cleaned histories, finished forecasts.

A forecast is a pure function of (stored version, coin history, days), so the server
does each heavy step once per version and data day instead of once per request:

- ``ModelCache`` keeps the parsed forecaster of each (user, name, version), at most
  ``COINCAST_MODEL_CACHE`` of them (least recently used goes first). Every request
  still asks the registry for the version's row (one indexed query): that is how
  "latest" moves to a version saved a moment ago, by this server or any other process,
  and how a deleted version stops being served; an entry whose ETag differs from the
  row's is reloaded.
- ``HistoryCache`` keeps each coin's cleaned history for a minute, keyed by its last
  stored day (a refresh that adds a day is used at once); each load gets a new token.
- Each model entry memoises its last few forecasts per (history token, days), with the
  interval widths (the GARCH/EWMA variance filter) inside them, their JSON answers (per
  day too: the staleness notice counts days), and which callers' ledgers already hold
  that forecast: the ledger ignores a repeated row anyway, so a
  repeat skips only a write that would change nothing. Tokens change at least every
  minute, so a forecast is recomputed (and re-offered to the ledger) that often.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from coincast.errors import NoDataError
from coincast.settings import Settings
from coincast.store.records import VersionInfo
from coincast.store.registry import ModelRegistry

if TYPE_CHECKING:
    from coincast.forecast.forecaster import Forecaster

__all__ = ["CachedModel", "HistoryCache", "ModelCache"]

_FORECASTS_PER_MODEL = 16
_HISTORIES = 32


@dataclass
class CachedModel:
    """One loaded version and its recent forecasts (keyed by history token and days)."""

    etag: str
    forecaster: Forecaster
    coin: str | None
    forecasts: OrderedDict[tuple[int, int], pd.DataFrame] = field(default_factory=OrderedDict)
    recorded: set[tuple[int, int, str]] = field(default_factory=set)
    bodies: OrderedDict[tuple[int, int, str], bytes] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self, key: tuple[int, int, str], build: Callable[[], bytes]) -> bytes:
        """The route's JSON answer per (history token, days, today): building it from
        the frame and validating it costs more than the rest of a cached request."""
        with self.lock:
            hit = self.bodies.get(key)
            if hit is not None:
                return hit
        made = build()
        with self.lock:
            self.bodies[key] = made
            while len(self.bodies) > _FORECASTS_PER_MODEL:
                self.bodies.popitem(last=False)
        return made

    def ready_body(self, key: tuple[int, int, str], user: str | None) -> bytes | None:
        """The memoised answer when nothing is left to do for this request: it exists,
        and the caller (None: anonymous) already had this forecast offered to its ledger."""
        with self.lock:
            if user is not None and (key[0], key[1], user) not in self.recorded:
                return None
            return self.bodies.get(key)

    def forecast(self, token: int, history: pd.DataFrame | None, days: int) -> pd.DataFrame:
        """The forecast from this history (None: the model's own last days); a copy, so
        callers may change it freely."""
        key = (token, days)
        with self.lock:
            hit = self.forecasts.get(key)
            if hit is not None:
                self.forecasts.move_to_end(key)
                return hit.copy()
        fc = self.forecaster
        if history is None or fc.spec is None:
            frame = fc.forecast(days)
        else:  # only the last window matters; a tail keeps the work small
            frame = fc.forecast(days, history=history.iloc[-(fc.spec.window + 60) :])
        with self.lock:
            self.forecasts[key] = frame
            while len(self.forecasts) > _FORECASTS_PER_MODEL:
                old, _ = self.forecasts.popitem(last=False)
                self.recorded = {r for r in self.recorded if r[:2] != old}
        return frame.copy()

    def first_record(self, token: int, days: int, user: str) -> bool:
        """True once per (history token, days, user): whether to offer it to the ledger."""
        key = (token, days, user)
        with self.lock:
            if key in self.recorded:
                return False
            self.recorded.add(key)
            return True


class ModelCache:
    """Loaded forecasters per (user, name, version), LRU-bounded (see the module doc)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, int], CachedModel] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times stored files were parsed (tests read it)

    def peek(
        self, registry: ModelRegistry, user: str, name: str, version: str
    ) -> CachedModel | None:
        """The version's entry when loaded and current; None otherwise (never loads, and
        a missing version is None too: ``get`` says why)."""
        found = registry.etag(user, name, version)
        return None if found is None else self._current((user, name, found[0]), found[1])

    def _current(self, key: tuple[str, str, int], etag: str) -> CachedModel | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit.etag == etag:
                self._items.move_to_end(key)
                return hit
        return None

    def get(
        self, registry: ModelRegistry, user: str, name: str, version: str
    ) -> tuple[VersionInfo, CachedModel]:
        from coincast.forecast.forecaster import Forecaster

        info = registry.info(user, name, version)
        key = (info.user, info.name, info.version)
        hit = self._current(key, info.etag)
        if hit is not None:
            return info, hit
        stored = registry.get(user, name, info.version)
        fc = Forecaster.from_tfjs(stored.model_json, stored.weights)
        entry = CachedModel(stored.info.etag, fc, fc.coin)
        with self._lock:
            self.loads += 1
            self._items[key] = entry
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return info, entry


class HistoryCache:
    """Cleaned histories for a minute, keyed by the coin's last stored day.

    Reading and cleaning thousands of rows costs ~100 ms, twenty times the forecast
    itself; a refresh that adds a day changes the key, so new data is used at once.
    """

    TTL_S = 60.0

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, date | None, int, pd.DataFrame | None]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        self._tokens = itertools.count(1)

    def cached(self, settings: Settings, coin: str) -> tuple[int, pd.DataFrame | None] | None:
        """What ``get`` would return when it is cached and current; None: never loads."""
        return self._hit(coin, _last_date(settings, coin))

    def _hit(self, coin: str, last: date | None) -> tuple[int, pd.DataFrame | None] | None:
        with self._lock:
            hit = self._items.get(coin)
            if hit is not None and hit[1] == last and time.monotonic() - hit[0] < self.TTL_S:
                return hit[2], hit[3]
        return None

    def get(self, settings: Settings, coin: str) -> tuple[int, pd.DataFrame | None]:
        """(token of this load, the history or None when the store has none)."""
        from coincast.api import load_history

        last = _last_date(settings, coin)
        hit = self._hit(coin, last)
        if hit is not None:
            return hit
        now = time.monotonic()
        try:
            frame: pd.DataFrame | None = load_history(coin, settings)
        except NoDataError:
            frame = None
        with self._lock:
            token = next(self._tokens)
            self._items[coin] = (now, last, token, frame)
            while len(self._items) > _HISTORIES:
                self._items.popitem(last=False)
        return token, frame


def _last_date(settings: Settings, coin: str) -> date | None:
    from coincast.data.market.cache import MarketCache

    return MarketCache(settings).last_date(coin)
