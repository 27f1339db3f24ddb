"""One thin router per resource; shared OpenAPI error documentation."""

from __future__ import annotations

from typing import Any

from coincast.server.schemas import ErrorOut

__all__ = ["ERRORS", "SOURCE_ERRORS"]

_DESCRIPTIONS = {
    400: "Invalid request (bad name, malformed model files).",
    401: "Missing or invalid token.",
    403: "Token valid, but not for this resource.",
    404: "No such coin, model or version.",
    413: "Body too large.",
    422: "Request body or parameters fail validation.",
}

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in _DESCRIPTIONS.items()
}

SOURCE_ERRORS: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorOut, "description": "CoinGecko is still rate-limiting after retries."},
    502: {"model": ErrorOut, "description": "CoinGecko failed (bad answer, wrong API key)."},
    503: {"model": ErrorOut, "description": "CoinGecko unreachable, or the store unavailable."},
}
