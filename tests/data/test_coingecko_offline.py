"""Offline machines: a host name that does not resolve fails at once, without retries.

The probe at ``coincast serve`` start-up and every refresh rely on this: a DNS refusal is
final, so waiting through the retry schedule would only delay the message.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from coincast.data.coingecko.client import CoinGeckoClient, _is_name_resolution_failure
from coincast.errors import SourceUnreachableError
from coincast.settings import Settings


def _dns_error() -> httpx.ConnectError:
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as inner:
            raise httpx.ConnectError("[Errno -2] Name or service not known") from inner
    except httpx.ConnectError as exc:
        return exc


def test_name_resolution_failure_is_recognised_through_the_cause_chain() -> None:
    assert _is_name_resolution_failure(_dns_error())
    assert not _is_name_resolution_failure(httpx.ConnectError("Connection refused"))


def test_unresolvable_host_fails_after_one_attempt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def refuse(self: httpx.Client, url: str, **kwargs: object) -> httpx.Response:
        calls.append(url)
        raise _dns_error()

    monkeypatch.setattr(httpx.Client, "get", refuse)
    sleeps: list[float] = []
    with (
        CoinGeckoClient(settings, sleep=sleeps.append) as client,
        pytest.raises(SourceUnreachableError) as info,
    ):
        client.top_coins(5)
    assert len(calls) == 1 and sleeps == []
    message = str(info.value)
    assert "Cannot reach CoinGecko" in message and "1 attempt" in message
    assert "coincast data import FILE --coin ID" in message


def test_refused_connection_is_still_retried(settings: Settings) -> None:
    # A port with nothing listening: connection refused is transient (a server restarting).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = settings.model_copy(
        update={
            "coingecko_url": f"http://127.0.0.1:{port}/api/v3",
            "max_retries": 2,
            "requests_per_minute": 1e6,
        }
    )
    sleeps: list[float] = []
    with CoinGeckoClient(cfg, sleep=sleeps.append) as client, pytest.raises(SourceUnreachableError):
        client.top_coins(5)
    assert len(sleeps) == 2
