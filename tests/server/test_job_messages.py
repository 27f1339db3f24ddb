"""Training jobs speak the form's words: labels and limits in 422s, page advice instead of
CLI flags, the library's default preset, patience 0 as "never stop early", and a note
when a run stopped early."""

from __future__ import annotations

import pytest

from coincast.model.presets import DEFAULT_PRESET
from coincast.server.job_runner import Job
from coincast.server.schemas import EpochOut, JobIn
from tests.helpers.live_server import LiveServer
from tests.server.test_jobs import COIN, JOBS, _run, server  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"epochs": 2, "window": 10, "units": [4], "batch_size": 64}


@pytest.mark.parametrize(
    ("params", "field", "start"),
    [
        (
            {"window": 3},
            "window",
            "Window (days): at least 5 days (allowed: a whole number from 5 ",
        ),
        ({"units": []}, "units", "LSTM units: give at least one layer size"),
        ({"lr": 0}, "lr", "Learning rate: more than 0 (allowed: from above 0 to 1)"),
        ({"dropout": 1}, "dropout", "Dropout: less than 1 (allowed: from 0 to below 1)"),
        ({"epochs": "many"}, "epochs", "Epochs: must be a whole number"),
        ({"patience": -1}, "patience", "Early-stop patience: at least 0 epochs"),
        ({"epochz": 3}, "params", "Training setting 'epochz': not a setting this accepts"),
    ],
)
def test_bad_training_values_are_named_as_the_form_names_them(
    live_server: LiveServer, params: dict[str, object], field: str, start: str
) -> None:
    with live_server.client() as c:
        r = c.post(JOBS, json={"coin": "bitcoin", "name": "m", "params": params})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["message"].startswith(start), error
    assert error["field"] == field
    assert "params." not in error["message"] and "Input should" not in error["message"]


def test_the_window_limit_is_the_forms_and_the_servers(live_server: LiveServer) -> None:
    with live_server.client() as c:
        fields = {f["name"]: f for f in c.get("/presets").json()["fields"]}
    assert fields["window"]["minimum"] == 5 and fields["window"]["label"] == "Window (days)"
    assert fields["patience"]["minimum"] == 0


def test_a_job_without_a_preset_trains_the_librarys_default(
    server: LiveServer,  # noqa: F811
) -> None:
    assert JobIn.model_fields["preset"].default == DEFAULT_PRESET
    with server.client() as c:
        epochs, final = _run(c, {"coin": COIN, "name": "dflt", "params": TINY})
    assert final["status"] == "succeeded", final
    assert final["preset"] == DEFAULT_PRESET == "shrunk"
    assert final["result"]["preset"] == DEFAULT_PRESET


@pytest.mark.parametrize("preset", ["paper", "shrunk"])  # shrunk has a patience of its own
def test_patience_0_trains_every_epoch(server: LiveServer, preset: str) -> None:  # noqa: F811
    # lr 1 makes the validation loss jump about: any patience would stop this run early.
    params = {**TINY, "epochs": 40, "lr": 1.0, "dropout": 0.0}
    with server.client() as c:
        never, final = _run(
            c, {"coin": COIN, "name": "p0", "preset": preset, "params": {**params, "patience": 0}}
        )
        assert final["status"] == "succeeded", final
        assert len(never) == 40 and final["note"] is None
        early, _ = _run(
            c, {"coin": COIN, "name": "p1", "preset": preset, "params": {**params, "patience": 1}}
        )
        assert len(early) < 40  # this run can stop early: 0 is what kept it going


def test_insufficient_history_is_told_in_the_pages_words(server: LiveServer) -> None:  # noqa: F811
    with server.client() as c:
        _, final = _run(c, {"coin": COIN, "name": "long", "params": {**TINY, "window": 300}})
    assert final["status"] == "failed"
    assert "--window" not in final["error"] and "coincast data fetch" not in final["error"]
    assert "shorter Window (days)" in final["error"], final["error"]


def _job(val_losses: list[float], epochs: int) -> Job:
    job = Job(id="j", user="u", spec=JobIn(coin="c", name="n"), status="succeeded", epochs=epochs)
    job.history = [
        EpochOut(epoch=i + 1, epochs=epochs, loss=1.0, val_loss=v) for i, v in enumerate(val_losses)
    ]
    return job


def test_a_job_that_stopped_early_says_so() -> None:
    stopped = _job([0.5, 0.2, 0.3, 0.4, 0.3, 0.25, 0.21], epochs=50).to_out()
    assert stopped.note == (
        "Stopped at epoch 7 of 50: no better validation loss for 5 epochs; best epoch 2 kept."
    )
    assert _job([0.5, 0.4, 0.3], epochs=3).to_out().note is None  # ran every epoch
