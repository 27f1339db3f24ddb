"""Pydantic models of every request and response body, so the OpenAPI schema is exact.

Separate input and output models (the template's Create/Public split): inputs forbid
unknown fields, so a typo in a hyperparameter is a 4xx instead of being silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from coincast.model.presets import DEFAULT_PRESET

__all__ = [
    "ErrorBody",
    "ErrorOut",
    "HealthOut",
    "MeOut",
    "CoinOut",
    "CoinsOut",
    "HistoryOut",
    "RefreshOut",
    "VersionOut",
    "VersionsOut",
    "ModelOut",
    "ModelsOut",
    "PublicIn",
    "ForecastIn",
    "ForecastOut",
    "TrainParams",
    "JobIn",
    "ParamField",
    "PresetOut",
    "PresetsOut",
    "EpochOut",
    "JobOut",
    "JobsOut",
    "CREDIT",
    "DISCLAIMER",
]

CREDIT = "Data provided by CoinGecko"
DISCLAIMER = "Forecasts are decision support, not financial advice."


class ErrorBody(BaseModel):
    type: str = Field(description="The coincast.errors class name, e.g. ModelFormatError.")
    message: str = Field(description="What is wrong, then what to do.")
    field: str | None = Field(
        default=None, description="The job field (e.g. window) a validation error is about."
    )


class ErrorOut(BaseModel):
    error: ErrorBody


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class MeOut(BaseModel):
    user: str
    mode: Literal["local", "token"]


class CoinOut(BaseModel):
    id: str
    symbol: str
    name: str
    volume_rank: int | None = None
    market_cap_rank: int | None = None
    current_price: float | None = None
    total_volume: float | None = None
    market_cap: float | None = None
    price_change_percentage_24h: float | None = None
    stored: bool = Field(default=False, description="History of this coin is in the store.")
    last_date: str | None = Field(default=None, description="Last stored day (ISO), if any.")
    last_price: float | None = Field(default=None, description="Price on last_date.")
    stablecoin: bool = Field(default=False, description="Pegged to 1 USD (library's rule).")


class CoinsOut(BaseModel):
    coins: list[CoinOut] = Field(
        description="The top list (when known) by volume, then every other stored coin."
    )
    top_list_fresh: bool = Field(
        default=True, description="False when CoinGecko could not be reached for the top list."
    )
    notice: str | None = Field(default=None, description="Why the list is partial, if it is.")
    credit: str = CREDIT


class HistoryOut(BaseModel):
    coin: str
    dates: list[str] = Field(description="ISO days (UTC), increasing.")
    price: list[float | None]
    volume: list[float | None]
    market_cap: list[float | None]
    last_date: str = Field(description="Last stored day (ISO), whatever start/end asked.")
    age_days: int = Field(description="Days from last_date to today (UTC).")
    stale: bool = Field(description="age_days > 2: the data misses recent days.")
    notice: str | None = Field(default=None, description="Says so in words when stale.")
    credit: str = CREDIT


class RefreshOut(BaseModel):
    coin: str | None = None
    added: int = Field(description="Rows (days or coins) written.")
    last_date: str | None = None
    notices: list[str] = Field(default_factory=list)
    credit: str = CREDIT


class VersionOut(BaseModel):
    user: str
    name: str
    version: int
    created_at: datetime
    parent_version: int | None
    metrics: dict[str, Any] = Field(description="The evaluation stored with the model.")
    summary: dict[str, Any] = Field(
        default_factory=dict,
        description="1-day errors of model and naive (rmse, naive_rmse, mape, naive_mape, "
        "mase) and the plain-words verdict, when the model carries an evaluation.",
    )
    coin: str | None = None
    preset: str | None = None
    etag: str
    json_size: int
    weights_size: int
    model_json_url: str
    weights_url: str


class VersionsOut(BaseModel):
    versions: list[VersionOut]


class ModelOut(BaseModel):
    user: str
    name: str
    public: bool
    latest_version: int
    n_versions: int
    created_at: datetime
    updated_at: datetime
    versions: list[VersionOut] | None = None


class ModelsOut(BaseModel):
    models: list[ModelOut]


class PublicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public: bool


class ForecastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(default=7, ge=1, le=60, description="Days ahead to forecast.")


class ForecastOut(BaseModel):
    user: str
    name: str
    version: int
    coin: str
    last_date: str
    last_price: float
    dates: list[str]
    forecast: list[float]
    lower: list[float | None]
    upper: list[float | None]
    naive: list[float]
    metrics: dict[str, Any] = Field(description="Flat 1-day summary, as VersionOut.summary.")
    evaluation: dict[str, Any] = Field(description="The full stored evaluation.")
    skill_summary: str
    data_ends: str = Field(description="Last day of the history the forecast starts from.")
    age_days: int = Field(description="Days from data_ends to today (UTC).")
    stale: bool = Field(description="age_days > 2: the forecast starts in the past.")
    notice: str | None = Field(default=None, description="Says so in words when stale.")
    disclaimer: str = DISCLAIMER
    credit: str = CREDIT


class TrainParams(BaseModel):
    """Overrides of the preset; anything left out keeps the preset's value."""

    model_config = ConfigDict(extra="forbid")
    # Titles are the training form's labels: the page shows them and error messages name
    # fields by them (coincast.server.messages). Limits are the form's (served by
    # GET /api/v1/presets); a window under 5 days gives the LSTM almost nothing to read.
    epochs: int | None = Field(default=None, ge=1, le=1000, title="Epochs")
    batch_size: int | None = Field(default=None, ge=1, le=4096, title="Batch size")
    lr: float | None = Field(default=None, gt=0, le=1, title="Learning rate")
    window: int | None = Field(default=None, ge=5, le=365, title="Window (days)")
    units: list[int] | None = Field(default=None, min_length=1, max_length=4, title="LSTM units")
    dropout: float | None = Field(default=None, ge=0, lt=1, title="Dropout")
    patience: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        title="Early-stop patience",
        description="Epochs without a better validation loss before stopping; 0: never stop "
        "early (null keeps the preset's).",
    )
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, title="Seed")


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    coin: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=64, description="Model name to save under.")
    preset: str = Field(
        default=DEFAULT_PRESET,
        min_length=1,
        max_length=32,
        description="A preset of GET /api/v1/presets; by default the library's.",
    )
    params: TrainParams = Field(default_factory=TrainParams)
    parent_version: int | None = Field(
        default=None, ge=1, description="Train this stored version of `name` further."
    )


class ParamField(BaseModel):
    """One trainable setting and the values ``POST …/jobs`` accepts for it.

    Read from ``TrainParams``' JSON schema, never written by hand: a form that takes its
    limits from here cannot offer a value the server then refuses. Only the bounds the
    setting has are present; ``exclusive_*`` bounds are strict (``lr`` > 0).
    """

    name: str
    label: str = Field(description="The training form's label, as error messages name it.")
    type: Literal["integer", "number", "array"]
    items: Literal["integer", "number"] | None = Field(
        default=None, description="Type of an array's elements (units: integers)."
    )
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_minimum: int | float | None = None
    exclusive_maximum: int | float | None = None
    min_items: int | None = None
    max_items: int | None = None


class PresetOut(BaseModel):
    name: str
    description: str = Field(description="One line: the design and why it exists.")
    params: TrainParams = Field(
        description="The preset's value of every trainable setting: what a job uses when "
        "`params` leaves it out (null: off, e.g. no early stopping)."
    )
    recipe: dict[str, Any] = Field(
        description="The settings a job cannot override: features, target, val_frac, "
        "test_frac, shrink, lr_decay_patience."
    )


class PresetsOut(BaseModel):
    default: str = Field(
        description="The library's default preset (coincast.model.presets.DEFAULT_PRESET)."
    )
    fields: list[ParamField] = Field(description="Every key of a job's `params`, with limits.")
    presets: list[PresetOut]


class EpochOut(BaseModel):
    epoch: int
    epochs: int
    loss: float | None
    val_loss: float | None = None
    lr: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None


class JobOut(BaseModel):
    id: str
    user: str
    coin: str
    name: str
    preset: str
    parent_version: int | None
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    epoch: int
    epochs: int | None
    loss: float | None
    val_loss: float | None
    eta_s: float | None
    history: list[EpochOut]
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    result: VersionOut | None
    note: str | None = Field(
        default=None,
        description="How training ended when it stopped early: at which epoch, why, and "
        "which epoch's weights were kept.",
    )


class JobsOut(BaseModel):
    jobs: list[JobOut]
