"""Error messages in the page's words: field labels, the allowed range, what to do.

Pydantic's own wording ("params.window: Input should be greater than or equal to 2")
names a JSON path and a rule, not the form field a person typed into; and a few library
messages are worded for the CLI ("use a shorter --window"). The server answers web and
API clients alike, so it says both in the words of the training form, whose labels are
``TrainParams``' field titles (served by ``GET /api/v1/presets``, one source).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from coincast.errors import CoincastError, InsufficientHistoryError
from coincast.server.schemas import JobIn, TrainParams

__all__ = ["describe_validation", "first_field", "page_message", "stop_note"]

# Units of a field's values, for "at least 5 days" (not "at least 5").
_UNITS = {"window": " days", "epochs": " epochs", "patience": " epochs"}
_TOP = {"coin": "Coin", "name": "Model name", "preset": "Preset", "parent_version": "Version"}
_RULES = {
    "greater_than_equal": ("at least", "ge"),
    "less_than_equal": ("at most", "le"),
    "greater_than": ("more than", "gt"),
    "less_than": ("less than", "lt"),
}


def _label(loc: Sequence[Any]) -> tuple[str | None, str]:
    """(field key, label) of an error location such as ('body', 'params', 'window')."""
    parts = [str(p) for p in loc if p != "body"]
    if len(parts) >= 2 and parts[0] == "params" and parts[1] in TrainParams.model_fields:
        key = parts[1]
        return key, TrainParams.model_fields[key].title or key
    if len(parts) >= 2 and parts[0] == "params":
        return "params", f"Training setting '{parts[1]}'"
    if parts and parts[0] in _TOP and parts[0] in JobIn.model_fields:
        return parts[0], _TOP[parts[0]]
    return None, ".".join(parts) or "request body"


def _allowed(key: str | None) -> str:
    """'allowed: 5 to 365 days' from TrainParams' published limits."""
    if key not in TrainParams.model_fields:
        return ""
    prop = TrainParams.model_json_schema()["properties"][key]
    (schema,) = [s for s in prop.get("anyOf", [prop]) if s.get("type") != "null"]
    unit = _UNITS.get(key, "")
    if schema["type"] == "array":
        return f"1 to {schema.get('maxItems', 4)} layer sizes, comma-separated, e.g. 64, 32"
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    low = "above " if "exclusiveMinimum" in schema else ""
    high = "below " if "exclusiveMaximum" in schema else ""
    whole = "a whole number " if schema["type"] == "integer" else ""
    return f"{whole}from {low}{lo} to {high}{hi}{unit}"


def _one(err: Any) -> str:
    key, label = _label(err.get("loc", ()))
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    allowed = _allowed(key)
    if kind in _RULES:
        words, bound = _RULES[kind]
        value = ctx.get(bound)
        unit = _UNITS.get(key or "", "")
        unit = unit.rstrip("s") if value == 1 else unit
        rule = f"{words} {value:g}{unit}" if isinstance(value, int | float) else f"{words} {value}"
    elif kind == "too_short" and key == "units":
        rule = "give at least one layer size"
    elif kind == "too_long" and key == "units":
        rule = f"at most {ctx.get('max_length')} layers"
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        rule = "must be a whole number"
    elif kind in ("float_parsing", "float_type"):
        rule = "must be a number"
    elif kind == "extra_forbidden":
        known = ", ".join(TrainParams.model_fields) if key == "params" else ""
        return f"{label}: not a setting this accepts" + (f" (known: {known})." if known else ".")
    elif kind == "string_too_short":
        rule = "is required"
    elif kind == "missing":
        rule = "is required"
    else:
        rule = str(err.get("msg", "invalid")).rstrip(".").lower()
    text = f"{label}: {rule}"
    if allowed:
        text += f" (allowed: {allowed})"
    if key in TrainParams.model_fields or key == "params":
        text += "; change it in the training form"
    return text + "."


def describe_validation(errors: Sequence[Any]) -> str:
    """'Window (days): at least 5 days (allowed: a whole number from 5 to 365 days); …'"""
    return " ".join(_one(err) for err in list(errors)[:5])


def first_field(errors: Sequence[Any]) -> str | None:
    """The form field (TrainParams key or JobIn field) the first error is about."""
    for err in errors:
        key, _ = _label(err.get("loc", ()))
        if key is not None:
            return key
    return None


_CLI_HINT = re.compile(
    r" Fetch more history \(`coincast data fetch[^)]*\)\)? or use a shorter --window\."
)


def page_message(exc: CoincastError) -> str:
    """``exc``'s message with CLI-only advice put in the words of the page and the API."""
    message = exc.message
    if isinstance(exc, InsufficientHistoryError):
        message = _CLI_HINT.sub(
            " Choose a shorter Window (days), or store more history of this coin "
            "(Refresh beside the chart, or import a longer CSV).",
            message,
        )
    return message


def stop_note(losses: Sequence[float | None], epochs: int | None) -> str | None:
    """'Stopped at epoch 7 of 50: no better validation loss for 5 epochs; best epoch 2
    kept.' for a finished run shorter than planned, else None.

    Read from the job's own epoch history, so a job another server process ran says the
    same: the monitored loss is the per-epoch validation loss (training loss without
    validation), the best epoch its first minimum — the trainer's rule (min_delta 0) —
    and with early stopping the trainer keeps that epoch's weights.
    """
    run = len(losses)
    if not run or epochs is None or run >= epochs or any(v is None for v in losses):
        return None
    values = [float(v) for v in losses if v is not None]
    best = values.index(min(values)) + 1
    waited = run - best
    return (
        f"Stopped at epoch {run} of {epochs}: no better validation loss for {waited} "
        f"epoch{'s' if waited != 1 else ''}; best epoch {best} kept."
    )
