"""The training presets, from the library, for the page's form and any other client.

The page used to carry its own copy of every preset and limit, and the copies drifted (no
``return`` preset, ``paper`` as default where the library uses ``shrunk``). Now
``coincast.model.presets`` is the one source of the values and ``TrainParams`` — the
schema ``POST …/jobs`` validates with — the one source of the limits.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from coincast.model.presets import DEFAULT_PRESET, PRESETS, Preset
from coincast.server.schemas import ParamField, PresetOut, PresetsOut, TrainParams

__all__ = ["router", "presets_out"]

router = APIRouter(tags=["presets"])

# JSON-schema keyword → ParamField attribute.
_LIMITS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "minItems": "min_items",
    "maxItems": "max_items",
}


@router.get("/presets", response_model=PresetsOut, summary="Training presets and limits")
def list_presets() -> PresetsOut:
    """Every preset with its description, trainable defaults and fixed recipe; the limits
    a job's `params` must keep; and which preset the library uses by default. Needs no
    token: the training form is built from it before anyone signs in."""
    return presets_out()


def presets_out() -> PresetsOut:
    return PresetsOut(
        default=DEFAULT_PRESET,
        fields=param_fields(),
        presets=[_preset_out(p) for p in PRESETS.values()],
    )


def param_fields() -> list[ParamField]:
    """TrainParams' fields with the bounds its JSON schema publishes (the null branch of
    each ``anyOf`` dropped: null only means "keep the preset's value")."""
    props: dict[str, Any] = TrainParams.model_json_schema()["properties"]
    out = []
    for name, prop in props.items():
        (schema,) = [s for s in prop.get("anyOf", [prop]) if s.get("type") != "null"]
        limits = {attr: schema[key] for key, attr in _LIMITS.items() if key in schema}
        items = schema.get("items", {}).get("type")
        label = prop.get("title", name)
        out.append(ParamField(name=name, label=label, type=schema["type"], items=items, **limits))
    return out


def _preset_out(preset: Preset) -> PresetOut:
    values = preset.to_dict()
    trainable = set(TrainParams.model_fields)
    fixed = trainable | {"name", "description"}
    return PresetOut(
        name=preset.name,
        description=preset.description,
        params=TrainParams(**{k: v for k, v in values.items() if k in trainable}),
        recipe={k: v for k, v in values.items() if k not in fixed},
    )
