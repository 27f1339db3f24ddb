"""``GET /ledger``: the signed-in user's recorded forecasts, what happened, and the score.

Always the caller's own ledger: there is no user in the path or query, so no request can
name another user's forecasts.
"""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query

from coincast.json_values import finite
from coincast.ledger.records import Ledger, LedgerRow, model_key
from coincast.ledger.scoring import score_known, track_record
from coincast.server.deps import SettingsDep, UserDep
from coincast.server.routes import ERRORS
from coincast.settings import Settings

router = APIRouter(tags=["ledger"], responses=ERRORS)


def _row(r: LedgerRow) -> dict[str, Any]:
    return {
        "model": r.model,
        "version": r.version,
        "origin_date": r.origin_date.isoformat(),
        "horizon": r.horizon,
        "target_date": r.target_date.isoformat(),
        "forecast": finite(r.point),
        "lower": finite(r.lower),
        "upper": finite(r.upper),
        "naive": finite(r.naive),
        "actual": finite(r.actual),
        "error": finite(r.error),
        "naive_error": finite(r.naive_error),
        "inside": r.inside,
        "source": r.source,
        "created_at": r.created_at.isoformat(),
    }


@router.get("/ledger")
def ledger(
    user: UserDep,
    settings: SettingsDep,
    coin: Annotated[str, Query(min_length=1, max_length=128, description="Coin id.")],
    model: Annotated[
        str | None, Query(max_length=256, description="Saved model name or preset:NAME.")
    ] = None,
) -> dict[str, Any]:
    rows = Ledger(settings).rows(user, coin, model)
    models = sorted({r.model for r in rows})
    return {
        "user": user,
        "coin": coin,
        "rows": [_row(r) for r in rows],
        "track_record": {
            m: [t.to_dict() for t in track_record([r for r in rows if r.model == m])]
            for m in models
        },
    }


def record_served(
    settings: Settings, me: str, owner: str, name: str, version: int, coin: str,
    frame: pd.DataFrame,
) -> None:  # fmt: skip
    """Keep a forecast the API (or the page) served in the caller's ledger."""
    key = model_key(name, owner=owner, user=me)
    Ledger(settings).record(me, coin, key, str(version), frame, "api")


def score_after_refresh(settings: Settings, coin: str) -> None:
    """Score what a refresh made known (``POST /coins/{coin}/refresh``, first history)."""
    score_known(Ledger(settings), coin)
