"""One settings object for all of coincast; the only reader of ``os.environ``.

Every field can be set with a ``COINCAST_<FIELD>`` environment variable (or a ``.env``
file). Functions take a ``Settings`` instance rather than reading globals, so tests build
their own with a temporary data dir and a loopback CoinGecko.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiPlan", "Settings", "PUBLIC_URL", "PRO_URL"]

PUBLIC_URL = "https://api.coingecko.com/api/v3"
PRO_URL = "https://pro-api.coingecko.com/api/v3"

# Conservative calls/minute per plan: published figures disagree (keyless roughly 5-15,
# demo 30-100), so the defaults sit at the low end and a full top-100 refresh never
# trips a 429. Raise them in settings if your plan allows more.
DEFAULT_RATE_PER_MINUTE = {"public": 5.0, "demo": 30.0, "pro": 250.0}


class ApiPlan(StrEnum):
    public = "public"
    demo = "demo"
    pro = "pro"


class Settings(BaseSettings):
    """coincast configuration (``COINCAST_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="COINCAST_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("coincast", appauthor=False)),
        description="Where the SQLite store, models and logs live.",
    )
    # CoinGecko
    coingecko_url: str | None = Field(
        default=None, description="API base URL; default depends on the plan (pro host for pro)."
    )
    coingecko_api_key: SecretStr | None = None
    coingecko_plan: ApiPlan = ApiPlan.public
    requests_per_minute: float | None = Field(
        default=None, gt=0, description="Client-side rate limit; default per plan."
    )
    http_timeout: float = Field(default=20.0, gt=0, description="Seconds per HTTP request.")
    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_max: float = Field(default=90.0, gt=0, description="Longest wait between retries.")
    missing_coin_retry_days: float = Field(
        default=7, ge=0, description="Top-list refreshes skip ids CoinGecko 404'd this recently."
    )
    # Storage
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database; default SQLite in data_dir.",
    )
    # Object store: set s3_endpoint to keep model files in an S3-compatible bucket, so
    # several servers share them, instead of files under data_dir.
    s3_endpoint: str | None = Field(
        default=None, description="S3-compatible endpoint URL; unset = files under data_dir."
    )
    s3_bucket: str = Field(default="coincast-models", min_length=3, max_length=63)
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_region: str = "us-east-1"
    s3_timeout: float = Field(default=10.0, gt=0, description="Seconds per object-store call.")
    # Cleaning
    max_gap_days: int = Field(default=3, ge=0, description="Longer gaps split the series.")
    spike_threshold: float = Field(default=20.0, gt=1, description="Volume spike factor vs MAD.")
    # Server
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_model_json_bytes: int = Field(default=1_000_000, gt=0)
    max_weights_bytes: int = Field(default=64_000_000, gt=0)
    # Longer than clients' idle-connection expiry (httpx 5 s, browsers a minute or more), so
    # a reused connection is not closed by the server at the moment a request is sent.
    keep_alive_s: int = Field(default=75, ge=1)
    cors_origins: list[str] = Field(default_factory=list)
    model_cache: int = Field(default=32, ge=1, description="Loaded models the server keeps.")
    # Remote coincast server for `coincast models push/pull` (client side).
    remote_url: str | None = Field(default=None, description="e.g. http://host:8000")
    remote_token: SecretStr | None = Field(default=None, description="Bearer token there.")
    # Training
    torch_threads: int | None = Field(default=None, ge=1)
    seed: int = 42
    native_kernel: bool = Field(
        default=True,
        description="Build and use the compiled LSTM time loop (needs g++); 0 = Python kernel.",
    )
    # Ray: unset = a local Ray runtime with this machine's cores.
    ray_address: str | None = Field(
        default=None, description="Ray cluster to run training/tuning on, e.g. ray://head:10001."
    )
    # The forecast ledger's daily job inside `coincast serve`, at HH:MM UTC (unset: off).
    daily_at: str | None = Field(
        default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="e.g. 00:40"
    )
    # Shared development data (tests and benchmarks only; never shipped or served).
    shared_dir: Path = Path("../shared")

    @model_validator(mode="after")
    def _key_matches_plan(self) -> Settings:
        if self.coingecko_plan is not ApiPlan.public and self.coingecko_api_key is None:
            from coincast.errors import ConfigError

            raise ConfigError(
                f"COINCAST_COINGECKO_PLAN is '{self.coingecko_plan}' but no API key is set. "
                "Set COINCAST_COINGECKO_API_KEY, or use the keyless plan 'public'."
            )
        return self

    @cached_property
    def base_url(self) -> str:
        """The API host for the plan: pro keys only work on the pro host."""
        if self.coingecko_url:
            return self.coingecko_url.rstrip("/")
        return PRO_URL if self.coingecko_plan is ApiPlan.pro else PUBLIC_URL

    @cached_property
    def rate_per_minute(self) -> float:
        if self.requests_per_minute is not None:
            return self.requests_per_minute
        return DEFAULT_RATE_PER_MINUTE[self.coingecko_plan.value]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "coincast.sqlite3"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"
