"""``GET /api/v1/ledger`` over real HTTP: forecasts served are kept per user, never shown
to another user."""

from __future__ import annotations

from pathlib import Path

import pytest

from coincast.api import Forecaster, save
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from tests.helpers.live_server import LiveServer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def shared_model(settings: Settings, daily_dir: Path) -> None:
    """alice's small public bitcoin model, and bitcoin's history up to 2024-06-30."""
    history = read_history_csv(daily_dir / "bitcoin.csv").loc["2023-01-01":"2024-06-30"]
    MarketCache(settings).upsert_history("bitcoin", history, source="csv")
    fc = Forecaster("shrunk", epochs=2, window=10, units=(8,))
    fc.fit(history, coin="bitcoin")
    registry = ModelRegistry(settings)
    save(fc, registry, "alice", "btc")
    registry.set_public("alice", "btc", True)


def test_each_user_sees_only_the_forecasts_they_asked_for(
    live_server: LiveServer, shared_model: None
) -> None:
    alice, bob = live_server.add_user("alice"), live_server.add_user("bob")
    url = "/users/alice/models/btc/versions/latest/forecast"
    with live_server.client(alice) as a, live_server.client(bob) as b:
        assert a.post(url, json={"days": 5}).status_code == 200
        assert a.post(url, json={"days": 5}).status_code == 200  # the same again: no new rows
        mine = a.get("/ledger", params={"coin": "bitcoin"}).json()
        assert mine["user"] == "alice"
        assert [r["horizon"] for r in mine["rows"]] == [1, 2, 3, 4, 5]
        assert {(r["model"], r["version"], r["source"]) for r in mine["rows"]} == {
            ("btc", "1", "api")
        }
        assert mine["rows"][0]["origin_date"] == "2024-06-30"
        assert mine["rows"][0]["actual"] is None
        assert [t["window"] for t in mine["track_record"]["btc"]] == ["30d", "90d", "all"]

        theirs = b.get("/ledger", params={"coin": "bitcoin"}).json()
        assert theirs["user"] == "bob" and theirs["rows"] == [] and theirs["track_record"] == {}
        # bob reads alice's public model: his own ledger keeps it, under alice's name.
        assert b.post(url, json={"days": 2}).status_code == 200
        theirs = b.get("/ledger", params={"coin": "bitcoin", "model": "alice/btc"}).json()
        assert len(theirs["rows"]) == 2
        assert len(a.get("/ledger", params={"coin": "bitcoin"}).json()["rows"]) == 5

        missing = a.get("/ledger")
        assert missing.status_code == 422  # the API's status for a request it cannot read
        assert "coin" in missing.json()["error"]["message"]
    with live_server.client() as anon:
        assert anon.get("/ledger", params={"coin": "bitcoin"}).status_code == 401


def test_a_memoised_answer_still_reaches_each_new_readers_ledger(
    live_server: LiveServer, shared_model: None
) -> None:
    """The second request is answered from the memo on the event loop; a reader the memo
    has not seen yet takes the full path, so bob's ledger gets the rows alice's has."""
    alice, bob = live_server.add_user("alice"), live_server.add_user("bob")
    url = "/users/alice/models/btc/versions/latest/forecast"
    with live_server.client(alice) as a, live_server.client(bob) as b:
        first, repeat = (a.post(url, json={"days": 4}) for _ in range(2))
        theirs = b.post(url, json={"days": 4})
        assert first.status_code == repeat.status_code == theirs.status_code == 200
        assert first.content == repeat.content == theirs.content
        rows = b.get("/ledger", params={"coin": "bitcoin", "model": "alice/btc"}).json()["rows"]
        assert [r["horizon"] for r in rows] == [1, 2, 3, 4]
        assert len(a.get("/ledger", params={"coin": "bitcoin"}).json()["rows"]) == 4
