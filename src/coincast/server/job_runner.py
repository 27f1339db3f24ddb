"""Server-side training as background jobs: a thread pool, progress per epoch, cancel.

Training is CPU-bound PyTorch that releases the GIL inside its kernels, so a small
thread pool (one worker by default: the machine's cores are better spent on one model
at a time) keeps the event loop free to serve progress and other requests. Each job
records every ``EpochReport``; the SSE route replays them and follows new ones. A job
that finishes saves a new version in the model store; "train further" loads a stored
version, continues from its weights (``Forecaster.fit(warm_start=True)``) and records
the parent.

Every job is also a row of the shared database (``coincast.server.job_store``): the process
running it writes its status and each epoch there, so any server process can list it,
stream its progress and cancel it (a flag the runner checks each epoch), and a restarted
server still shows past jobs and marks the ones it was running as interrupted.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from coincast.errors import CoincastError, JobNotFoundError
from coincast.json_values import finite
from coincast.model.schedule import CancelToken, EpochReport
from coincast.server.errors import InvalidRequestError
from coincast.server.job_store import ACTIVE, JobRecord, JobStore, this_owner
from coincast.server.messages import page_message, stop_note
from coincast.server.schemas import EpochOut, JobIn, JobOut, VersionOut
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry, validate_name

__all__ = ["Job", "JobManager", "train_and_save"]

log = logging.getLogger("coincast.server.job_runner")
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
_KEEP_FINISHED = 200
MAX_ACTIVE_PER_USER = 4
STALLED_AFTER_S = 30 * 60  # an active job of another process with no progress this long


@dataclass
class Job:
    id: str
    user: str
    spec: JobIn
    status: Status = "queued"
    epochs: int | None = None
    history: list[EpochOut] = field(default_factory=list)
    cancel_token: CancelToken = field(default_factory=CancelToken)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    error: str | None = None
    result: VersionOut | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    def to_record(self, owner: str) -> JobRecord:
        return JobRecord(
            id=self.id,
            user=self.user,
            owner=owner,
            spec=self.spec.model_dump(mode="json"),
            status=self.status,
            epochs=self.epochs,
            history=[e.model_dump(mode="json") for e in self.history],
            created_at=self.created_at,
            finished_at=self.finished_at,
            error=self.error,
            result=None if self.result is None else self.result.model_dump(mode="json"),
        )

    @classmethod
    def from_record(cls, rec: JobRecord) -> Job:
        """A read-only view of a job that may run in another process."""
        status = rec.status
        error = rec.error
        idle = (datetime.now(UTC) - rec.updated_at).total_seconds()
        if status in ACTIVE and idle > STALLED_AFTER_S:
            status, error = (
                "failed",
                (
                    f"No progress for {idle / 60:.0f} minutes: the server process running this job "
                    f"({rec.owner}) seems to have stopped. Saved versions are kept; start the job "
                    "again."
                ),
            )
        return cls(
            id=rec.id,
            user=rec.user,
            spec=JobIn.model_validate(rec.spec),
            status=status,  # type: ignore[arg-type]
            epochs=rec.epochs,
            history=[EpochOut.model_validate(e) for e in rec.history],
            created_at=rec.created_at,
            finished_at=rec.finished_at,
            error=error,
            result=None if rec.result is None else VersionOut.model_validate(rec.result),
        )

    def to_out(self) -> JobOut:
        last = self.history[-1] if self.history else None
        return JobOut(
            id=self.id,
            user=self.user,
            coin=self.spec.coin,
            name=self.spec.name,
            preset=self.spec.preset,
            parent_version=self.spec.parent_version,
            status=self.status,
            epoch=last.epoch if last else 0,
            epochs=self.epochs,
            loss=last.loss if last else None,
            val_loss=last.val_loss if last else None,
            eta_s=last.eta_s if last else None,
            history=list(self.history),
            created_at=self.created_at,
            finished_at=self.finished_at,
            error=self.error,
            result=self.result,
            note=self._note(),
        )

    def _note(self) -> str | None:
        if self.status != "succeeded":
            return None
        with_val = all(e.val_loss is not None for e in self.history)
        return stop_note([e.val_loss if with_val else e.loss for e in self.history], self.epochs)


def _epoch_out(report: EpochReport) -> EpochOut:
    return EpochOut(
        epoch=report.epoch,
        epochs=report.epochs,
        loss=finite(report.loss),
        val_loss=finite(report.val_loss),
        lr=report.lr,
        elapsed_s=report.elapsed_s,
        eta_s=report.eta_s,
    )


def train_and_save(
    settings: Settings,
    registry: ModelRegistry,
    user: str,
    spec: JobIn,
    on_epoch: Callable[[EpochReport], None] | None = None,
    cancel: CancelToken | None = None,
    on_start: Callable[[int], None] | None = None,
) -> VersionOut | None:
    """Train as ``spec`` says and store the result; None when cancelled (nothing saved)."""
    from coincast.api import SCHEDULE_KEYS, Forecaster, load_history, save, train_further
    from coincast.server.views import version_out

    overrides = spec.params.model_dump(exclude_none=True)
    if "units" in overrides:
        overrides["units"] = tuple(overrides["units"])
    history = load_history(spec.coin, settings)
    if spec.parent_version is not None:
        # Only the training schedule may change: the network and its inputs are fixed.
        schedule = {k: overrides[k] for k in SCHEDULE_KEYS if k in overrides}
        fc, _ = train_further(
            history,
            user,
            spec.name,
            spec.parent_version,
            registry=registry,
            coin=spec.coin,
            on_start=on_start,
            on_epoch=on_epoch,
            cancel=cancel,
            **schedule,
        )
    else:
        fc = Forecaster(spec.preset, **overrides)
        if on_start is not None:
            on_start(fc.preset.epochs)
        fc.fit(history, on_epoch=on_epoch, cancel=cancel, coin=spec.coin)
    if cancel is not None and cancel.cancelled:
        return None
    info = save(fc, registry, user, spec.name, parent_version=spec.parent_version)
    return version_out(registry, info)


class JobManager:
    def __init__(self, settings: Settings, registry: ModelRegistry, max_workers: int = 1) -> None:
        self.settings = settings
        self.registry = registry
        self.store = JobStore(settings)
        self.owner = this_owner()
        self._jobs: dict[str, Job] = {}  # the jobs this process runs (live objects)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cc-train")
        for rec in self.store.interrupted_on_this_host():
            rec.status, rec.finished_at = "failed", datetime.now(UTC)
            rec.error = (
                "The server stopped while this job was queued or running; nothing of it was "
                "saved. Start it again."
            )
            self.store.save(rec)

    def submit(self, user: str, spec: JobIn) -> Job:
        validate_name(spec.name)
        if spec.parent_version is not None:
            self.registry.info(user, spec.name, spec.parent_version)  # 404 now, not later
        job = Job(id=uuid.uuid4().hex, user=user, spec=spec)
        with self._lock:
            records = self.store.for_user(user)  # one read serves the cap and the pruning
            active = sum(1 for r in records if not self._view(r).finished)
            if active >= MAX_ACTIVE_PER_USER:
                raise InvalidRequestError(
                    f"You already have {active} training jobs queued or running (the limit is "
                    f"{MAX_ACTIVE_PER_USER}). Wait for one to finish, or cancel one."
                )
            finished = [r.id for r in records if r.status not in ACTIVE]  # oldest first
            self.store.delete(finished[: max(0, len(finished) - _KEEP_FINISHED)])
            self.store.insert(job.to_record(self.owner))
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, user: str, job_id: str) -> Job:
        """The live job when this process runs it, else its latest state from the store."""
        job = self._jobs.get(job_id)
        if job is None:
            rec = self.store.get(job_id)
            job = None if rec is None else Job.from_record(rec)
        if job is None or job.user != user:
            raise JobNotFoundError(
                f"No training job {job_id!r} for user {user!r}; list them with GET …/jobs."
            )
        return job

    def runs_here(self, job_id: str) -> bool:
        return job_id in self._jobs

    def list(self, user: str) -> list[Job]:
        return [self._view(r) for r in self.store.for_user(user)]

    def _view(self, rec: JobRecord) -> Job:
        """The live object when this process runs the job, else the record's state."""
        return self._jobs.get(rec.id) or Job.from_record(rec)

    def cancel(self, user: str, job_id: str) -> Job:
        job = self.get(user, job_id)
        if job.finished:
            return job
        self.store.request_cancel(job_id)  # the process running it stops at its next epoch
        if job_id in self._jobs:
            job.cancel_token.cancel()
            if job.status == "queued":
                self._finish(job, "cancelled")
        return job

    def shutdown(self) -> None:
        """Stop accepting work and ask running jobs to stop at their next epoch."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel_token.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _save(self, job: Job) -> None:
        """Write through; a database outage must not kill the training thread."""
        try:
            self.store.save(job.to_record(self.owner))
        except CoincastError:
            log.warning("could not record the state of job %s", job.id, exc_info=True)

    def _cancel_requested(self, job: Job) -> bool:
        try:
            return self.store.cancel_requested(job.id)
        except CoincastError:
            return False

    def _finish(self, job: Job, status: Status, error: str | None = None) -> None:
        job.error = error
        job.finished_at = datetime.now(UTC)
        job.status = status  # last: readers treat a finished status as "all fields final"
        self._save(job)
        with self._lock:
            self._jobs.pop(job.id, None)  # from now on the store has the final record

    def _run(self, job: Job) -> None:
        if job.cancel_token.cancelled or self._cancel_requested(job):
            if not job.finished:
                self._finish(job, "cancelled")
            return
        job.status = "running"
        self._save(job)

        def on_start(epochs: int) -> None:
            job.epochs = epochs
            self._save(job)

        def on_epoch(report: EpochReport) -> None:
            job.history.append(_epoch_out(report))
            self._save(job)
            if self._cancel_requested(job):  # asked through another server process
                job.cancel_token.cancel()

        try:
            result = train_and_save(
                self.settings,
                self.registry,
                job.user,
                job.spec,
                on_epoch,
                job.cancel_token,
                on_start,
            )
        except CoincastError as exc:
            self._finish(job, "failed", page_message(exc))
            return
        except Exception as exc:  # a bug must not kill the worker thread silently
            log.exception("training job %s failed", job.id)
            self._finish(job, "failed", f"Training failed unexpectedly ({type(exc).__name__}).")
            return
        if result is None:
            self._finish(job, "cancelled")
        else:
            job.result = result
            self._finish(job, "succeeded")
