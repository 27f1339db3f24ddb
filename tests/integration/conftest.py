"""Fixtures for the tests of the shared backends (what several server processes use to
share users, models and jobs): a real PostgreSQL and a real S3-compatible server.

Connection info comes from the environment that ``scripts/services.sh up`` prints (and
``.ci/run`` exports): ``COINCAST_TEST_PG_URL`` (an admin URL; each test gets its own
fresh database) and ``COINCAST_TEST_S3_ENDPOINT`` (each test gets its own bucket). When
they are unset or the servers do not answer, the tests skip and say how to start them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from coincast.settings import Settings
from tests.conftest import SHARED_DIR

HOW = 'start them with `eval "$(scripts/services.sh up)"`'
S3_KEY = "coincast-test"
S3_SECRET = "coincast-test-secret"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get("COINCAST_TEST_PG_URL")
    if not url:
        pytest.skip(f"PostgreSQL tests need COINCAST_TEST_PG_URL; {HOW}")
    parsed = make_url(url)
    if not _reachable(parsed.host or "127.0.0.1", parsed.port or 5432):
        pytest.skip(f"PostgreSQL at {parsed.host}:{parsed.port} is not answering; {HOW}")
    return url


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test (dropped afterwards)."""
    import psycopg

    from coincast.db import engine as db

    admin = make_url(pg_admin_url)
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    yield url
    engine = db._engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    url = os.environ.get("COINCAST_TEST_S3_ENDPOINT")
    if not url:
        pytest.skip(f"object-store tests need COINCAST_TEST_S3_ENDPOINT; {HOW}")
    parts = urlsplit(url)
    if not _reachable(parts.hostname or "127.0.0.1", parts.port or 80):
        pytest.skip(f"the S3 server at {url} is not answering; {HOW}")
    return url


@pytest.fixture
def s3_bucket() -> str:
    return f"cc-test-{uuid.uuid4().hex[:16]}"


def scaled_settings(
    data_dir: Path, database_url: str, s3_endpoint: str, bucket: str, **extra: object
) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        shared_dir=SHARED_DIR,
        database_url=database_url,
        s3_endpoint=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key=S3_KEY,
        s3_secret_key=S3_SECRET,
        **extra,
    )


@pytest.fixture
def pg_s3_settings(tmp_path: Path, pg_url: str, s3_endpoint: str, s3_bucket: str) -> Settings:
    """Settings for PostgreSQL metadata + S3 files (nothing of the store under data_dir)."""
    return scaled_settings(tmp_path / "data", pg_url, s3_endpoint, s3_bucket)


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``COINCAST_*`` environment that makes a server process use ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINCAST_")}
    env.update(
        COINCAST_DATA_DIR=str(settings.data_dir),
        COINCAST_HOST="127.0.0.1",
        COINCAST_SHARED_DIR=str(settings.shared_dir),
    )
    if settings.database_url:
        env["COINCAST_DATABASE_URL"] = settings.database_url
    if settings.s3_endpoint:
        env.update(
            COINCAST_S3_ENDPOINT=settings.s3_endpoint,
            COINCAST_S3_BUCKET=settings.s3_bucket,
            COINCAST_S3_ACCESS_KEY=settings.s3_access_key or "",
            COINCAST_S3_SECRET_KEY=(
                settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else ""
            ),
        )
    return env
