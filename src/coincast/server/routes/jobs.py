"""Training jobs: start, watch (JSON or Server-Sent Events), cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from coincast.server.deps import JobsDep, OwnerDep
from coincast.server.routes import ERRORS
from coincast.server.schemas import JobIn, JobOut, JobsOut

router = APIRouter(tags=["jobs"], responses=ERRORS)

JobPath = Annotated[str, Path(min_length=1, max_length=64, description="Job id.")]
_POLL_S = 0.1
_POLL_REMOTE_S = 0.5


@router.post("/users/{user}/jobs", response_model=JobOut, status_code=202)
def start_job(user: OwnerDep, body: JobIn, jobs: JobsDep) -> JobOut:
    return jobs.submit(user, body).to_out()


@router.get("/users/{user}/jobs", response_model=JobsOut)
def list_jobs(user: OwnerDep, jobs: JobsDep) -> JobsOut:
    return JobsOut(jobs=[j.to_out() for j in jobs.list(user)])


@router.get("/users/{user}/jobs/{job_id}", response_model=JobOut)
def get_job(user: OwnerDep, job_id: JobPath, jobs: JobsDep) -> JobOut:
    return jobs.get(user, job_id).to_out()


@router.post("/users/{user}/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(user: OwnerDep, job_id: JobPath, jobs: JobsDep) -> JobOut:
    return jobs.cancel(user, job_id).to_out()


@router.get(
    "/users/{user}/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
    summary="Progress as Server-Sent Events: status, one 'epoch' per epoch, final status",
)
async def job_events(user: OwnerDep, job_id: JobPath, jobs: JobsDep) -> EventSourceResponse:
    first = await run_in_threadpool(jobs.get, user, job_id)

    async def stream() -> AsyncIterator[dict[str, Any]]:
        job = first
        yield {"event": "status", "data": job.to_out().model_dump_json()}
        sent = 0
        while True:
            done = job.finished  # read before flushing: no epoch can follow a final status
            while sent < len(job.history):
                yield {"event": "epoch", "data": job.history[sent].model_dump_json()}
                sent += 1
            if done:
                yield {"event": "status", "data": job.to_out().model_dump_json()}
                return
            # A job this process runs is a live object; another process's is re-read from
            # the shared database, less often.
            await asyncio.sleep(_POLL_S if jobs.runs_here(job_id) else _POLL_REMOTE_S)
            job = await run_in_threadpool(jobs.get, user, job_id)

    return EventSourceResponse(stream(), ping=15)
