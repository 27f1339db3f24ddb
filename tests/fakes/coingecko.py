"""A real HTTP server on loopback that plays CoinGecko API v3, with injectable faults.

It serves the shapes recorded in ``shared/fixtures/coingecko`` and the histories in
``shared/data/daily``, shifted so each CSV's last row is today's 00:00 UTC snapshot (the
wall clock and the data agree, as with the real API). It enforces the plan rules the
client must respect (365 days without a pro key; key header vs host) and logs every
request, so tests count calls instead of trusting the client.

In tests: the ``fake_coingecko`` fixture (function scope) and ``fake.settings(data_dir)``.
Standalone, for the web page and benchmarks::

    python -m tests.fakes.coingecko --port 8765 [--mode public|pro]
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from coincast.settings import Settings

__all__ = ["Fault", "FakeCoinGecko", "RequestRecord", "fake_coingecko"]

API_PREFIX = "/api/v3"
DAY_S = 86_400
FREE_MAX_DAYS = 365
COIN_NOT_FOUND = {"error": "coin not found"}


def _default_shared() -> Path:
    import os

    root = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("COINCAST_SHARED_DIR", root.parent / "shared")).resolve()


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, consumed by one matching request."""

    kind: str  # "status" | "slow" | "truncated" | "malformed" | "disconnect"
    code: int = 200
    retry_after: str | None = None
    seconds: float = 0.0
    body: bytes | None = None

    @classmethod
    def status(cls, code: int, retry_after: float | str | None = None, body: Any = None) -> Fault:
        """Answer ``code`` with CoinGecko's error envelope, or ``body`` (JSON-encoded)."""
        ra = None if retry_after is None else str(retry_after)
        raw = None if body is None else json.dumps(body).encode()
        return cls("status", code=code, retry_after=ra, body=raw)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after ``seconds`` (past the client's timeout)."""
        return cls("slow", seconds=seconds)

    @classmethod
    def truncated(cls) -> Fault:
        """The real body cut in half, with a Content-Length that matches the cut."""
        return cls("truncated")

    @classmethod
    def malformed(cls, body: bytes | None = None) -> Fault:
        """HTTP 200 with well-formed JSON of the wrong shape (or ``body`` verbatim)."""
        return cls("malformed", body=body)

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without answering."""
        return cls("disconnect")


@dataclass
class RequestRecord:
    method: str
    path: str  # without the /api/v3 prefix, e.g. "/coins/bitcoin/market_chart"
    params: dict[str, str]
    headers: dict[str, str]
    at: float
    status: int = 0


@lru_cache(maxsize=64)
def _load_csv(path: Path) -> tuple[tuple[date, float, float | None, float | None], ...]:
    rows = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            mc = row.get("market_cap") or ""
            rows.append(
                (
                    date.fromisoformat(row["date"]),
                    float(row["price"]),
                    float(row["volume"]) if row["volume"] else None,
                    float(mc) if mc else None,
                )
            )
    return tuple(rows)


def _utc_midnight_s(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass
class FakeCoinGecko:
    """The server's state: data location, host mode, fault queues, request log."""

    shared_dir: Path = field(default_factory=_default_shared)
    mode: str = "public"  # which host it plays: "public" (api.) or "pro" (pro-api.)
    requests: list[RequestRecord] = field(default_factory=list)
    _faults: list[tuple[str, list[Fault]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    # A simulated day (tests of day-by-day jobs): the data is not shifted, but days after
    # it are not served yet, and the request-time point falls at its noon. None: the clock.
    today: date | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeCoinGecko:
        fake = self

        class Handler(_Handler):
            state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def settings(
        self,
        data_dir: Path,
        *,
        plan: str = "public",
        api_key: str | None = None,
        **overrides: Any,
    ) -> Settings:
        """Settings aimed at this fake: fast limiter, short timeout, few retries."""
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "coingecko_url": self.url,
            "coingecko_plan": plan,
            "coingecko_api_key": api_key,
            "requests_per_minute": 600_000.0,
            "http_timeout": 10.0,  # generous: a loaded CI machine must not cause retries
            "max_retries": 3,
            "backoff_max": 30.0,
            "shared_dir": self.shared_dir,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    # -- scripting and inspection ----------------------------------------------------

    def inject(self, path_glob: str, faults: list[Fault]) -> None:
        """Next requests matching ``path_glob`` (e.g. "/coins/*/market_chart") get these."""
        with self._lock:
            self._faults.append((path_glob, list(faults)))

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for glob, queue in self._faults:
                if queue and fnmatch.fnmatchcase(path, glob):
                    return queue.pop(0)
        return None

    def count(self, path_glob: str = "*") -> int:
        with self._lock:
            return sum(1 for r in self.requests if fnmatch.fnmatchcase(r.path, path_glob))

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(r.path for r in self.requests)

    def log(self, path_glob: str = "*") -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.requests if fnmatch.fnmatchcase(r.path, path_glob)]

    # -- data ------------------------------------------------------------------------

    def coin_csv(self, coin_id: str) -> Path | None:
        path = self.shared_dir / "data" / "daily" / f"{coin_id}.csv"
        return path if "/" not in coin_id and path.is_file() else None

    def shifted_rows(self, coin_id: str) -> list[tuple[int, float, float | None, float | None]]:
        """(unix seconds at 00:00 UTC, price, volume, market_cap), last row = today."""
        path = self.coin_csv(coin_id)
        assert path is not None
        rows = _load_csv(path)
        shift = datetime.now(UTC).date() - rows[-1][0]
        return [(_utc_midnight_s(d + shift), p, v, m) for d, p, v, m in rows]

    def served_today(self) -> date:
        return self.today or datetime.now(UTC).date()

    def now_s(self) -> float:
        return time.time() if self.today is None else _utc_midnight_s(self.today) + DAY_S / 2

    def markets(self) -> list[dict[str, Any]]:
        path = self.shared_dir / "fixtures" / "coingecko" / "coins_markets.json"
        rows: list[dict[str, Any]] = json.loads(path.read_text())
        return rows


def _chart(rows: list[tuple[int, float, float | None, float | None]]) -> dict[str, Any]:
    return {
        "prices": [[t * 1000, p] for t, p, _, _ in rows],
        "market_caps": [[t * 1000, m] for t, _, _, m in rows],
        "total_volumes": [[t * 1000, v] for t, _, v, _ in rows],
    }


def _with_now_point(
    chart: dict[str, Any], last: tuple[Any, ...], now_s: float | None = None
) -> dict[str, Any]:
    """CoinGecko's trailing request-time point (moved a little, so a kept one shows)."""
    now_ms = int((time.time() if now_s is None else now_s) * 1000)
    if now_ms % (DAY_S * 1000) == 0:
        now_ms += 1
    _, p, v, m = last
    chart["prices"].append([now_ms, p * 1.001])
    chart["market_caps"].append([now_ms, None if m is None else m * 1.001])
    chart["total_volumes"].append([now_ms, None if v is None else v * 0.5])
    return chart


def _error_401(code: int, message: str) -> tuple[int, Any]:
    return 401, {"status": {"error_code": code, "error_message": message}}


class _Handler(BaseHTTPRequestHandler):
    state: FakeCoinGecko
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the request log is ``state.requests``

    def do_GET(self) -> None:  # noqa: N802
        split = urlsplit(self.path)
        path = unquote(split.path)
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX) :]
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        record = RequestRecord(
            "GET", path, params, {k.lower(): v for k, v in self.headers.items()}, time.time()
        )
        with self.state._lock:
            self.state.requests.append(record)
        fault = self.state._next_fault(path)
        if fault is not None and fault.kind == "disconnect":
            record.status = -1
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow":
            if self.state._stopping.wait(fault.seconds):
                return
        if fault is not None and fault.kind == "status":
            body = {"status": {"error_code": fault.code, "error_message": "injected fault"}}
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            raw = fault.body or json.dumps(body).encode()
            self._send_raw(record, fault.code, raw, headers)
            return
        if fault is not None and fault.kind == "malformed":
            raw = fault.body or b'{"prices": "not a list", "market_caps": null}'
            self._send_raw(record, 200, raw)
            return
        status, body = self._route(path, params, record.headers)
        if fault is not None and fault.kind == "truncated":
            raw = json.dumps(body).encode()
            self._send_raw(record, status, raw[: max(1, len(raw) // 2)])
            return
        self._send(record, status, body)

    # -- routing ---------------------------------------------------------------------

    def _route(self, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        refused = self._check_key(headers)
        if refused is not None:
            return refused
        parts = path.strip("/").split("/")
        if parts == ["coins", "markets"]:
            return self._markets(params)
        if len(parts) == 3 and parts[0] == "coins" and parts[2] == "market_chart":
            return self._market_chart(parts[1], params, headers)
        if len(parts) == 4 and parts[0] == "coins" and parts[2:] == ["market_chart", "range"]:
            return self._range(parts[1], params, headers)
        return 404, {"error": "Incorrect path. Please check https://www.coingecko.com/api/"}

    def _check_key(self, headers: dict[str, str]) -> tuple[int, Any] | None:
        if self.state.mode == "public" and "x-cg-pro-api-key" in headers:
            return _error_401(
                10010,
                "If you are using Pro API key, please change your root URL from "
                "api.coingecko.com to pro-api.coingecko.com",
            )
        if self.state.mode == "pro":
            if "x-cg-demo-api-key" in headers:
                return _error_401(
                    10011,
                    "If you are using Demo API key, please change your root URL from "
                    "pro-api.coingecko.com to api.coingecko.com",
                )
            if "x-cg-pro-api-key" not in headers:
                return _error_401(10002, "API Key Missing")
        return None

    def _too_old(self) -> tuple[int, Any]:
        path = self.state.shared_dir / "fixtures" / "coingecko"
        return 401, json.loads((path / "error_401_time_range_exceeded.json").read_text())

    def _markets(self, params: dict[str, str]) -> tuple[int, Any]:
        rows = self.state.markets()
        order = params.get("order", "market_cap_desc")
        if order == "volume_desc":
            rows.sort(key=lambda r: -(r.get("total_volume") or 0))
        elif order == "market_cap_desc":
            rows.sort(key=lambda r: r.get("market_cap_rank") or 10**9)
        else:
            return 400, {"error": f"invalid order: {order}"}
        per_page = min(250, max(1, int(params.get("per_page", "100"))))
        page = max(1, int(params.get("page", "1")))
        return 200, rows[(page - 1) * per_page : page * per_page]

    def _market_chart(
        self, coin_id: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any]:
        if self.state.coin_csv(coin_id) is None:
            return 404, COIN_NOT_FOUND
        raw_days = params.get("days", "")
        pro = self.state.mode == "pro"
        if raw_days == "max":
            if not pro:
                return self._too_old()
            days = 10**6
        else:
            try:
                days = int(float(raw_days))
            except ValueError:
                return 400, {"error": "invalid days"}
            if days > FREE_MAX_DAYS and not pro:
                return self._too_old()
        today_s = _utc_midnight_s(self.state.served_today())
        rows = [r for r in self.state.shifted_rows(coin_id) if r[0] <= today_s]
        first = today_s - (days - 1) * DAY_S
        picked = [r for r in rows if r[0] >= first]
        return 200, _with_now_point(_chart(picked), rows[-1], self.state.now_s())

    def _range(
        self, coin_id: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any]:
        if self.state.coin_csv(coin_id) is None:
            return 404, COIN_NOT_FOUND
        try:
            start, end = float(params["from"]), float(params["to"])
        except (KeyError, ValueError):
            return 400, {"error": "from and to must be UNIX timestamps"}
        now = time.time()
        if self.state.mode != "pro" and start < now - FREE_MAX_DAYS * DAY_S:
            return self._too_old()
        rows = self.state.shifted_rows(coin_id)
        chart = _chart([r for r in rows if start <= r[0] <= end])
        return 200, _with_now_point(chart, rows[-1]) if end >= now - 60 else chart

    # -- sending ---------------------------------------------------------------------

    def _send(
        self, record: RequestRecord, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        self._send_raw(record, status, json.dumps(body).encode(), headers)

    def _send_raw(
        self, record: RequestRecord, status: int, raw: bytes, headers: dict[str, str] | None = None
    ) -> None:
        record.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to do


@pytest.fixture
def fake_coingecko(shared_dir: Path) -> Iterator[FakeCoinGecko]:
    """A fresh fake per test: its own port, fault queues and request log."""
    fake = FakeCoinGecko(shared_dir=shared_dir).start()
    try:
        yield fake
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake CoinGecko API on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--mode", choices=["public", "pro"], default="public")
    parser.add_argument("--shared", type=Path, default=None, help="the shared data folder")
    args = parser.parse_args(argv)
    fake = FakeCoinGecko(shared_dir=args.shared or _default_shared(), mode=args.mode)
    if args.host != "127.0.0.1":
        parser.error("the fake only binds 127.0.0.1")
    fake.start(args.port)
    print(f"fake CoinGecko ({args.mode} host) at {fake.url}  (Ctrl-C to stop)", flush=True)
    print(f"  export COINCAST_COINGECKO_URL={fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
