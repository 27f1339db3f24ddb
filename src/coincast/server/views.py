"""Store objects → response schemas (shared by the models, jobs and forecast routes)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

from coincast.server.schemas import ModelOut, VersionOut
from coincast.store.records import ModelSummary, VersionInfo
from coincast.store.registry import WEIGHTS_PATH, ModelRegistry

__all__ = [
    "metrics_summary",
    "skill_sentence",
    "version_out",
    "model_out",
    "version_base_url",
    "API_PREFIX",
]

API_PREFIX = "/api/v1"


def version_base_url(user: str, name: str, version: int | str) -> str:
    return f"{API_PREFIX}/users/{quote(user)}/models/{quote(name)}/versions/{version}"


def _meta(registry: ModelRegistry, info: VersionInfo) -> dict[str, Any]:
    """``userDefinedMetadata`` of a stored model.json (validated when it was saved)."""
    try:
        doc = json.loads(registry.blobs.get(info.json_key))
    except Exception:  # a listing must not fail because one file went missing
        return {}
    meta = doc.get("userDefinedMetadata") if isinstance(doc, dict) else None
    return meta if isinstance(meta, dict) else {}


def _row(metrics: dict[str, Any], method: str, horizon: int = 1) -> dict[str, Any]:
    table = metrics.get("table")
    if isinstance(table, list):
        for row in table:
            if (
                isinstance(row, dict)
                and row.get("method") == method
                and row.get("horizon") == horizon
            ):
                return row
    return {}


def metrics_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The 1-day row of model and naive, flat: what a listing or a page shows first."""
    model, naive = _row(metrics, "model"), _row(metrics, "naive")
    if not model:
        # Flat metrics (e.g. from a browser-trained model) pass through as they are.
        return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}
    out: dict[str, Any] = {"horizon": 1}
    for key in ("rmse", "mae", "mape", "mase", "direction"):
        out[key] = model.get(key)
        out[f"naive_{key}"] = naive.get(key)
    if isinstance(metrics.get("verdict"), str):
        out["verdict"] = metrics["verdict"]
    return out


def skill_sentence(metrics: dict[str, Any]) -> str:
    """Model vs naive in plain words, from the stored held-out evaluation."""
    s = metrics_summary(metrics)
    rmse, naive = s.get("rmse"), s.get("naive_rmse")
    if not isinstance(rmse, (int, float)) or not isinstance(naive, (int, float)) or naive <= 0:
        return (
            "This model carries no held-out evaluation, so its skill against the naive "
            "guess (tomorrow = today) is unknown: treat the forecast with care."
        )
    change = (rmse / naive - 1.0) * 100.0
    if abs(change) < 1.0:
        text = "about as large as"
    elif change < 0:
        text = f"{-change:.0f} % smaller than"
    else:
        text = f"{change:.0f} % larger than"
    sentence = (
        f"On held-out days this model's 1-day errors (RMSE) were {text} those of the naive "
        "guess (tomorrow = today)."
    )
    verdict = s.get("verdict")
    return f"{sentence} {verdict}" if isinstance(verdict, str) and verdict else sentence


def version_out(registry: ModelRegistry, info: VersionInfo) -> VersionOut:
    meta = _meta(registry, info)
    coin, preset = meta.get("coin"), meta.get("preset")
    if isinstance(preset, dict):
        preset = preset.get("name")
    base = version_base_url(info.user, info.name, info.version)
    return VersionOut(
        user=info.user,
        name=info.name,
        version=info.version,
        created_at=info.created_at,
        parent_version=info.parent_version,
        metrics=info.metrics,
        summary=metrics_summary(info.metrics),
        coin=coin if isinstance(coin, str) else None,
        preset=preset if isinstance(preset, str) else None,
        etag=f'"{info.etag}"',
        json_size=info.json_size,
        weights_size=info.weights_size,
        model_json_url=f"{base}/model.json",
        weights_url=f"{base}/{WEIGHTS_PATH}",
    )


def model_out(summary: ModelSummary, versions: list[VersionOut] | None = None) -> ModelOut:
    # ModelOut is ModelSummary's public shape, field for field (plus the optional versions).
    return ModelOut(**asdict(summary), versions=versions)
