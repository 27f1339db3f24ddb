"""Training jobs shared through PostgreSQL + S3: two servers, one job (see test_jobs_shared)."""

from __future__ import annotations

import pytest

from coincast.settings import Settings
from tests.server.test_jobs_shared import (
    test_a_job_started_on_one_server_is_seen_streamed_and_cancelled_from_another as shared_job,
)


@pytest.mark.slow
def test_a_job_is_shared_between_servers_on_postgres(pg_s3_settings: Settings) -> None:
    shared_job(pg_s3_settings)
