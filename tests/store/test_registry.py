"""The versioned model store on real SQLite + real files: numbering, atomicity, isolation."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

from coincast.errors import (
    ModelFormatError,
    ModelNotFoundError,
    ModelTooLargeError,
    ParameterError,
    StoreUnavailableError,
)
from coincast.model.lstm import LSTMRegressor, ModelConfig
from coincast.server.error_status import status_for
from coincast.settings import Settings
from coincast.store.records import NewVersion, VersionInfo
from coincast.store.registry import ModelRegistry, parse_version, validate_name
from coincast.store.sql_metadata import SqlMetadataStore
from coincast.store.tfjs.read import from_tfjs
from coincast.store.tfjs.write import to_tfjs


def make_files(
    seed: int = 0, units: int = 4, metrics: dict[str, float] | None = None
) -> tuple[bytes, bytes]:
    model = LSTMRegressor(
        ModelConfig(n_features=2, units=(units,)), generator=torch.Generator().manual_seed(seed)
    )
    doc, weights = to_tfjs(model, 5, {"coin": "bitcoin", "metrics": metrics or {"mape": 1.5}})
    return json.dumps(doc).encode(), weights


@pytest.fixture
def registry(settings: Settings) -> ModelRegistry:
    return ModelRegistry(settings)


def test_versions_are_numbered_and_readable_byte_for_byte(registry: ModelRegistry) -> None:
    files = [make_files(seed) for seed in range(3)]
    infos = [registry.save("alice", "btc", j, w) for j, w in files]
    assert [i.version for i in infos] == [1, 2, 3]
    for info, (j, w) in zip(infos, files, strict=True):
        got = registry.get("alice", "btc", info.version)
        assert (got.model_json, got.weights) == (j, w)
        assert got.info.etag == info.etag
        assert (info.json_size, info.weights_size) == (len(j), len(w))
    latest = registry.get("alice", "btc", "latest")
    assert latest.info.version == 3 and latest.weights == files[2][1]
    assert registry.get("alice", "btc", "v2").weights == files[1][1]
    assert len({i.etag for i in infos}) == 3
    assert infos[0].metrics == {"mape": 1.5}
    assert [v.version for v in registry.list_versions("alice", "btc")] == [1, 2, 3]
    (summary,) = registry.list_models("alice")
    assert (summary.name, summary.latest_version, summary.n_versions) == ("btc", 3, 3)
    assert summary.public is False


def test_stored_model_loads_and_predicts_like_the_original(registry: ModelRegistry) -> None:
    j, w = make_files(seed=7)
    registry.save("alice", "btc", j, w)
    stored = registry.get("alice", "btc")
    model, window, meta = from_tfjs(stored.model_json, stored.weights)
    original, _, _ = from_tfjs(j, w)
    x = torch.randn(3, window, 2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(model(x), original(x))
    assert meta["coin"] == "bitcoin"


def test_users_and_models_are_separate(registry: ModelRegistry) -> None:
    j, w = make_files()
    registry.save("alice", "btc", j, w)
    registry.save("alice", "eth", j, w)
    registry.save("bob", "btc", j, w)
    registry.save("bob", "btc", j, w)
    assert [m.name for m in registry.list_models("alice")] == ["btc", "eth"]
    assert registry.get("alice", "btc").info.version == 1
    assert registry.get("bob", "btc").info.version == 2
    assert registry.list_models("carol") == []
    with pytest.raises(ModelNotFoundError, match="carol"):
        registry.get("carol", "btc")
    with pytest.raises(ModelNotFoundError, match="no version 9"):
        registry.get("alice", "btc", 9)
    with pytest.raises(ModelNotFoundError):
        registry.list_versions("alice", "nope")


def test_parent_version_is_recorded_and_must_exist(registry: ModelRegistry) -> None:
    j, w = make_files()
    registry.save("alice", "btc", j, w)
    child = registry.save("alice", "btc", j, w, parent_version=1)
    assert child.parent_version == 1
    assert registry.get("alice", "btc", 2).info.parent_version == 1
    with pytest.raises(ModelNotFoundError, match="Parent version 5"):
        registry.save("alice", "btc", j, w, parent_version=5)
    # The failed save consumed no number: the next one is 3, gap-free.
    assert registry.save("alice", "btc", j, w).version == 3


def test_delete_is_explicit_and_numbers_are_never_reused(
    registry: ModelRegistry, settings: Settings
) -> None:
    files = [make_files(s) for s in range(3)]
    for j, w in files:
        registry.save("alice", "btc", j, w)
    deleted = registry.delete_version("alice", "btc", 3)
    assert deleted.version == 3
    assert registry.get("alice", "btc", "latest").info.version == 2
    with pytest.raises(ModelNotFoundError):
        registry.get("alice", "btc", 3)
    with pytest.raises(ModelNotFoundError):
        registry.delete_version("alice", "btc", 3)
    assert registry.save("alice", "btc", *files[0]).version == 4
    assert registry.get("alice", "btc", 1).weights == files[0][1]
    # The deleted version's files are gone from disk; the kept ones remain.
    on_disk = {p.name for p in settings.models_dir.rglob("*") if p.is_file()}
    assert on_disk == {"model.json", "model.weights.bin"}
    assert len(list(settings.models_dir.rglob("model.json"))) == 3


def test_public_flag(registry: ModelRegistry) -> None:
    j, w = make_files()
    registry.save("alice", "btc", j, w)
    assert registry.is_public("alice", "btc") is False
    registry.set_public("alice", "btc", True)
    assert registry.is_public("alice", "btc") is True
    assert registry.list_models("alice")[0].public is True
    registry.set_public("alice", "btc", False)
    assert registry.is_public("alice", "btc") is False
    assert registry.is_public("alice", "unknown") is False
    assert registry.is_public("..", "btc") is False
    with pytest.raises(ModelNotFoundError):
        registry.set_public("alice", "unknown", True)


@pytest.mark.parametrize("bad", ["../x", "..", ".", "", "a/b", "-x", ".hidden", "x" * 65, "a b"])
def test_names_are_validated(registry: ModelRegistry, bad: str, settings: Settings) -> None:
    j, w = make_files()
    with pytest.raises(ParameterError, match="Invalid model name"):
        registry.save("alice", bad, j, w)
    with pytest.raises(ParameterError, match="Invalid user name"):
        registry.save(bad, "btc", j, w)
    with pytest.raises(ParameterError):
        registry.get("alice", bad)
    assert not settings.models_dir.exists() or not any(settings.models_dir.rglob("*"))


def test_name_and_version_parsing() -> None:
    assert validate_name("btc-paper_v1.2") == "btc-paper_v1.2"
    assert parse_version("latest") is None
    assert parse_version(3) == parse_version("3") == parse_version("v3") == 3
    for bad in ("0", 0, -1, "v", "3.5", "latest2", True):
        with pytest.raises(ParameterError):
            parse_version(bad)


def test_invalid_model_stores_nothing(registry: ModelRegistry, settings: Settings) -> None:
    j, w = make_files()
    registry.save("alice", "btc", j, w)
    before = registry.get("alice", "btc", 1)
    with pytest.raises(ModelFormatError, match="truncated"):
        registry.save("alice", "btc", j, w[:-4])
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        registry.save("alice", "btc", b"{not json", w)
    assert [v.version for v in registry.list_versions("alice", "btc")] == [1]
    after = registry.get("alice", "btc", 1)
    assert (after.model_json, after.weights) == (before.model_json, before.weights)
    assert len(list(settings.models_dir.rglob("*.bin"))) == 1


def test_size_limits(settings: Settings) -> None:
    small = settings.model_copy(update={"max_weights_bytes": 100})
    registry = ModelRegistry(small)
    j, w = make_files()
    with pytest.raises(ModelTooLargeError, match="COINCAST_MAX_WEIGHTS_BYTES"):
        registry.save("alice", "btc", j, w)


def test_sharded_manifest_is_rewritten_to_one_weights_file(registry: ModelRegistry) -> None:
    j, w = make_files()
    doc = json.loads(j)
    specs = doc["weightsManifest"][0]["weights"]
    doc["weightsManifest"] = [
        {"paths": ["group1-shard1of2.bin"], "weights": specs[:2]},
        {"paths": ["group1-shard2of2.bin"], "weights": specs[2:]},
    ]
    registry.save("alice", "btc", json.dumps(doc).encode(), w)
    stored = json.loads(registry.get("alice", "btc").model_json)
    assert stored["weightsManifest"] == [{"paths": ["model.weights.bin"], "weights": specs}]


class FailingMetadata:
    """The real SQL store, failing at the DB step: the blob files are already written."""

    def __init__(self, inner: SqlMetadataStore) -> None:
        self.inner = inner

    def add_version(self, new: NewVersion) -> VersionInfo:
        raise StoreUnavailableError("database went away (injected)")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_failure_between_blob_write_and_commit_leaves_no_version(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    j1, w1 = make_files(1)
    registry.save("alice", "btc", j1, w1)
    broken = ModelRegistry(settings, metadata_store=FailingMetadata(registry.meta))  # type: ignore[arg-type]
    j2, w2 = make_files(2)
    with pytest.raises(StoreUnavailableError, match="injected"):
        broken.save("alice", "btc", j2, w2)
    assert [v.version for v in registry.list_versions("alice", "btc")] == [1]
    got = registry.get("alice", "btc", "latest")
    assert (got.model_json, got.weights) == (j1, w1)
    # The failed save cleaned up its own files.
    assert len(list(settings.models_dir.rglob("*.bin"))) == 1
    assert registry.save("alice", "btc", j2, w2).version == 2


@pytest.mark.slow  # a fresh interpreter imports torch
def test_crash_after_blob_write_leaves_only_garbage(settings: Settings, tmp_path: Path) -> None:
    """A real process dies (os._exit) after writing the files, before the DB row."""
    registry = ModelRegistry(settings)
    j1, w1 = make_files(1)
    registry.save("alice", "btc", j1, w1)
    j2, w2 = make_files(2)
    (tmp_path / "m.json").write_bytes(j2)
    (tmp_path / "w.bin").write_bytes(w2)
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from coincast.settings import Settings
        from coincast.store.registry import ModelRegistry

        settings = Settings(_env_file=None, data_dir={str(settings.data_dir)!r})
        registry = ModelRegistry(settings)
        def crash(new):
            os._exit(3)
        registry.meta.add_version = crash
        tmp = Path({str(tmp_path)!r})
        registry.save("alice", "btc", (tmp / "m.json").read_bytes(), (tmp / "w.bin").read_bytes())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 3, done.stderr.decode()
    assert len(list(settings.models_dir.rglob("*.bin"))) == 2  # the orphan is on disk
    # A crash inside a file write leaves a temp file; it is garbage too.
    leftover = next(settings.models_dir.rglob("*.bin")).parent / ".tmp-abc123.part"
    leftover.write_bytes(b"half")
    assert [v.version for v in registry.list_versions("alice", "btc")] == [1]
    got = registry.get("alice", "btc", "latest")
    assert (got.model_json, got.weights) == (j1, w1)
    assert registry.collect_garbage() == []  # too recent: might be a save in flight
    orphans = registry.collect_garbage(min_age_s=-1)
    assert len(orphans) == 3 and all("/btc/" in k for k in orphans)
    assert not leftover.exists()
    assert len(list(settings.models_dir.rglob("*.bin"))) == 1
    assert registry.get("alice", "btc", 1).weights == w1
    assert registry.save("alice", "btc", j2, w2).version == 2


def test_concurrent_saves_get_unique_gap_free_numbers(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    j, w = make_files()
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(5):
                info = registry.save("alice", "btc", j, w)
                with lock:
                    results.append(info.version)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == list(range(1, 41))
    assert [v.version for v in registry.list_versions("alice", "btc")] == list(range(1, 41))
    assert len({v.json_key for v in registry.list_versions("alice", "btc")}) == 40


def test_a_second_registry_on_the_same_data_sees_the_versions(settings: Settings) -> None:
    j, w = make_files()
    ModelRegistry(settings).save("alice", "btc", j, w)
    again = ModelRegistry(settings)
    assert again.get("alice", "btc", 1).weights == w


def test_delete_model_removes_every_version(registry: ModelRegistry, settings: Settings) -> None:
    j, w = make_files()
    for _ in range(3):
        registry.save("alice", "btc", j, w)
    registry.save("alice", "eth", j, w)
    registry.set_public("alice", "btc", True)
    gone = registry.delete_model("alice", "btc")
    assert [i.version for i in gone] == [1, 2, 3]
    assert [m.name for m in registry.list_models("alice")] == ["eth"]
    assert registry.is_public("alice", "btc") is False
    with pytest.raises(ModelNotFoundError):
        registry.delete_model("alice", "btc")
    assert len(list(settings.models_dir.rglob("*.bin"))) == 1
    assert registry.get("alice", "eth").weights == w
    assert registry.save("alice", "btc", j, w).version == 1


def test_unreachable_database_is_a_store_unavailable_error(settings: Settings) -> None:
    a_directory = settings.data_dir / "not-a-database"
    a_directory.mkdir(parents=True)
    broken = settings.model_copy(update={"database_url": f"sqlite:///{a_directory}"})
    with pytest.raises(StoreUnavailableError, match="COINCAST_DATABASE_URL") as info:
        ModelRegistry(broken)
    assert status_for(type(info.value)) == 503
    assert "SELECT" not in str(info.value) and "PRAGMA" not in str(info.value)


def test_etag_is_the_rows_own_and_follows_latest(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    assert registry.etag("alice", "btc") is None
    registry.save("alice", "btc", *make_files(1))
    registry.save("alice", "btc", *make_files(2), parent_version=1)
    one, two = (registry.info("alice", "btc", v) for v in (1, 2))
    assert one.etag != two.etag
    assert registry.etag("alice", "btc") == (2, two.etag)
    assert registry.etag("alice", "btc", "v1") == (1, one.etag)
    registry.delete_version("alice", "btc", 2)
    assert registry.etag("alice", "btc") == (1, one.etag)
    assert registry.etag("alice", "btc", 2) is None
    with pytest.raises(ParameterError):
        registry.etag("alice", "../x")
