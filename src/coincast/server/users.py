"""Users and their bearer tokens, stored hashed.

A token is 32 random bytes from ``secrets`` (256 bits), shown once when the user is
created. Only its SHA-256 is stored: a slow password hash (bcrypt, argon2) protects
*low-entropy* secrets against guessing, but nobody can guess a 256-bit random value, so
a plain fast hash is enough and keeps every request cheap. A stolen database therefore
yields no usable token. Lookups go by hash and the final check is
``hmac.compare_digest``, so the comparison time says nothing about the stored value.

Tokens look like ``cc_<43 url-safe characters>``; the prefix makes them easy to spot in
logs and secret scanners.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, String, Table, delete, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from coincast.db.engine import make_engine, metadata
from coincast.db.migrate import upgrade
from coincast.errors import StoreUnavailableError
from coincast.server.errors import InvalidRequestError
from coincast.settings import Settings
from coincast.store.registry import validate_name

__all__ = ["User", "UserStore", "hash_token", "new_token", "LOCAL_USER", "users_table"]

LOCAL_USER = "local"
TOKEN_PREFIX = "cc_"

users_table = Table(
    "server_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class User:
    name: str
    created_at: datetime


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    """The user table in the shared metadata database (made by the one migration runner)."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine(settings)
        try:
            upgrade(self.engine)
        except OperationalError as exc:
            raise _unavailable(exc, self.engine) from exc

    def add(self, name: str) -> tuple[User, str]:
        """Create a user; returns it with its token (the only time the token exists in clear)."""
        validate_name(name, "user name")
        token = new_token()
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(users_table).values(
                        name=name, token_sha256=hash_token(token), created_at=now
                    )
                )
        except IntegrityError as exc:
            raise InvalidRequestError(
                f"User {name!r} already exists. Pick another name, or remove it first with "
                f"`coincast users remove {name}`."
            ) from exc
        except OperationalError as exc:
            raise _unavailable(exc, self.engine) from exc
        return User(name=name, created_at=now), token

    def remove(self, name: str) -> bool:
        """Delete a user (their token stops working at once); False if there was none."""
        try:
            with self.engine.begin() as conn:
                result = conn.execute(delete(users_table).where(users_table.c.name == name))
        except OperationalError as exc:
            raise _unavailable(exc, self.engine) from exc
        return bool(result.rowcount)

    def list(self) -> list[User]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(users_table.c.name, users_table.c.created_at).order_by(
                        users_table.c.name
                    )
                ).all()
        except OperationalError as exc:
            raise _unavailable(exc, self.engine) from exc
        return [User(name=r.name, created_at=_aware(r.created_at)) for r in rows]

    def count(self) -> int:
        try:
            with self.engine.connect() as conn:
                n = conn.execute(select(func.count()).select_from(users_table)).scalar_one()
        except OperationalError as exc:
            raise _unavailable(exc, self.engine) from exc
        return int(n)

    def authenticate(self, token: str) -> str | None:
        """The user a token belongs to, or None. Never raises for a malformed token."""
        if not token or len(token) > 256:
            return None
        digest = hash_token(token)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(users_table.c.name, users_table.c.token_sha256).where(
                        users_table.c.token_sha256 == digest
                    )
                ).first()
        except OperationalError as exc:
            raise _unavailable(exc, self.engine) from exc
        if row is None or not hmac.compare_digest(row.token_sha256, digest):
            return None
        return str(row.name)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _unavailable(exc: Exception, engine: Engine) -> StoreUnavailableError:
    """Name the setting that points at the database actually in use."""
    if engine.dialect.name == "sqlite":
        hint = "Check that the data directory (COINCAST_DATA_DIR) is writable and not full."
    else:
        hint = "Check that the database in COINCAST_DATABASE_URL is running and reachable."
    return StoreUnavailableError(f"The user database cannot be used ({type(exc).__name__}). {hint}")
