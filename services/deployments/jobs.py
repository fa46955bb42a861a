"""Jobs: runs started by hand or by a cron schedule, watched to their end, their exit code and
log recorded before their workload is removed.

A run is ``pending`` until its workload started, ``running`` until it ends, then ``succeeded``
(exit code 0), ``failed`` or ``cancelled``.  The runner is plain async methods a test calls
(`JobRunner.run_schedules` takes the time to evaluate the schedules at).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from sqlalchemy.orm import Session

from .models import Job, JobRun, utcnow
from .runtimes.base import Handle, Runtime, State, Workload, make_workload_id
from .store import active_runs, delete_job, due_jobs, new_run, set_next_run
from .workloads import handle_json, handle_of, next_cron_time, reason, resources_of

log = logging.getLogger(__name__)

#: Most characters of a run's log kept in the database once the run is over (its end).
MAX_SAVED_LOG = 1024 * 1024
ACTIVE = ("pending", "running")


class JobRunner:
    """Starts, watches, cancels and schedules job runs on one runtime."""

    def __init__(self, db, runtime: Runtime, *, poll_interval: float = 1,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.runtime = runtime
        self.poll_interval = poll_interval
        self.clock = clock
        #: The task of each run in progress (starting it, then watching it), by run id.
        self._tasks: dict[int, asyncio.Task] = {}

    def _track(self, run: JobRun, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[run.id] = task
        task.add_done_callback(lambda done: self._done(run.id, done))

    def _done(self, run_id: int, task: asyncio.Task) -> None:
        if self._tasks.get(run_id) is task:
            del self._tasks[run_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("Watching run %d failed", run_id, exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until every run in progress is over (tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop watching (the runs go on: the next start adopts them)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- running -------------------------------------------------------------------------------

    async def run(self, job_id: int, trigger: str = "manual") -> tuple[Job, JobRun]:
        """Record a run of the job and start it in the background; the job and the run as recorded."""
        job, run = await self.db.run(new_run, job_id, trigger)
        log.info("Running job %s (run %d, %s)", job.full_name, run.number, trigger)
        self._track(run, self._start(job, run))
        return job, run

    async def _start(self, job: Job, run: JobRun) -> None:
        spec = job.spec or {}
        try:
            workload = Workload(
                id=make_workload_id("job", job.namespace, job.name, f"{run.number}x{secrets.token_hex(2)}"),
                kind="job", namespace=job.namespace, name=job.name, image=spec.get("image"),
                command=list(spec.get("command") or []), env=dict(spec.get("env") or {}),
                resources=resources_of(spec),
            )
            handle = await self.runtime.start(workload)
        except Exception as e:
            log.warning("Run %d of job %s could not start: %s", run.number, job.full_name, reason(e))
            await self.db.run(_finish, run.id, "failed", None, None, f"could not start: {reason(e)}", self.clock())
            return
        if not await self.db.run(_started, run.id, handle_json(handle), self.clock()):
            log.info("Run %d of job %s was cancelled while it started", run.number, job.full_name)
            await self.runtime.stop(handle)
            return
        await self._watch(job, run, handle)

    async def _watch(self, job: Job, run: JobRun, handle: Handle) -> None:
        """Until the run's workload ends: then its exit code and log are recorded and it is removed."""
        while (state := await self.runtime.state(handle)).phase == "running":
            await asyncio.sleep(self.poll_interval)
        await self._record_end(job, run, handle, state)
        await self.runtime.stop(handle)

    async def _record_end(self, job: Job, run: JobRun, handle: Handle, state: State) -> None:
        text = await self._log(handle)
        if state.phase == "exited":
            status = "succeeded" if state.exit_code == 0 else "failed"
            message = None if status == "succeeded" else f"exited with code {state.exit_code}"
            if state.message:
                message = f"{message or 'exited'} ({state.message})"
        else:
            status, message = "failed", "its workload disappeared"
        if await self.db.run(_finish, run.id, status, state.exit_code, text, message, self.clock()):
            log.info("Run %d of job %s %s (exit code %s)", run.number, job.full_name, status, state.exit_code)

    async def end_all(self, message: str) -> None:
        """Record the runs in progress as over, before their workloads are stopped with the
        service (after `close`): ``failed`` with ``message`` and their output so far, or as they
        ended if they did meanwhile."""
        for job, run in await self.active():
            handle = handle_of(run.handle)
            state = await self.runtime.state(handle) if handle else None
            if handle is not None and state.phase == "exited":
                await self._record_end(job, run, handle, state)
                continue
            text = await self._log(handle) if handle else run.log
            if await self.db.run(_finish, run.id, "failed", None, text, message, self.clock()):
                log.warning("Run %d of job %s ended: %s", run.number, job.full_name, message)

    async def _log(self, handle: Handle) -> str:
        try:
            text = await self.runtime.logs(handle)
        except Exception:
            log.exception("Reading the log of %s failed", handle.workload_id)
            return ""
        return text[-MAX_SAVED_LOG:]

    async def cancel(self, job: Job, run: JobRun) -> JobRun:
        """End a run in progress: status ``cancelled``, its log kept, its workload removed.  A run
        that is over stays as it is; one still starting is stopped as soon as it has started."""
        current = await self.db.run(_load, run.id)
        if current is None or current.status not in ACTIVE:
            return current or run
        handle = handle_of(current.handle)
        if handle is not None:  # running: its watcher is only polling, so it may go
            task = self._tasks.pop(run.id, None)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        text = await self._log(handle) if handle else None
        cancelled = await self.db.run(_finish, run.id, "cancelled", None, text, "cancelled", self.clock())
        if handle is not None:
            log.info("Cancelling run %d of job %s (%s)", run.number, job.full_name, handle.workload_id)
            await self.runtime.stop(handle)
        return cancelled or current

    async def delete(self, job: Job) -> None:
        """Cancel its runs in progress, then remove the job and its history."""
        for other, run in await self.db.run(active_runs):
            if other.id == job.id:
                await self.cancel(job, run)
        await self.db.run(delete_job, job.id)
        log.info("Deleted job %s", job.full_name)

    # -- logs ----------------------------------------------------------------------------------

    async def logs(self, run: JobRun, tail: int | None) -> str:
        """Its output: kept in the database once it is over, else read from the runtime."""
        if run.log is not None or not run.handle:
            text = run.log or ""
            return "".join(text.splitlines(keepends=True)[-tail:]) if tail else text
        return await self.runtime.logs(handle_of(run.handle), tail)

    def follow(self, run: JobRun) -> AsyncIterator[str] | None:
        """Its output as it comes while it runs; None once it is over."""
        if run.log is not None or not run.handle:
            return None
        return self.runtime.follow(handle_of(run.handle))

    # -- schedules and restarts ----------------------------------------------------------------

    async def run_schedules(self, now: datetime | None = None) -> list[JobRun]:
        """Start a run of every job whose ``next_run`` has come (``now``: naive UTC, default the
        clock), and move its ``next_run`` to the schedule's next time after ``now``: runs missed
        while the service was down are not made up, one is run."""
        now = now or self.clock()
        started = []
        for job in await self.db.run(due_jobs, now):
            try:
                following = next_cron_time(job.schedule, now) if job.schedule else None
                if await self.db.run(set_next_run, job.id, job.next_run, following):
                    started.append((await self.run(job.id, "schedule"))[1])
            except Exception:
                log.exception("Scheduled run of job %s failed", job.full_name)
        return started

    async def active(self) -> list[tuple[Job, JobRun]]:
        return await self.db.run(active_runs)

    async def resume(self, runs: list[tuple[Job, JobRun]], running: dict[str, Handle]) -> None:
        """After a restart: watch the runs in progress whose workload is still there; the others
        were lost while the service was down."""
        for job, run in runs:
            handle = handle_of(run.handle)
            if handle is None or handle.workload_id not in running:
                await self.db.run(_finish, run.id, "failed", None, run.log,
                                  "the service restarted and the run's workload was gone", self.clock())
                log.warning("Run %d of job %s was lost while the service was down", run.number, job.full_name)
            else:
                log.info("Adopting run %d of job %s (%s)", run.number, job.full_name, handle.workload_id)
                self._track(run, self._watch(job, run, handle))


def _load(session: Session, run_id: int) -> JobRun | None:
    return session.get(JobRun, run_id)


def _started(session: Session, run_id: int, handle: dict, when: datetime) -> bool:
    """Record that a pending run's workload started; False if it was cancelled or deleted meanwhile."""
    run = session.get(JobRun, run_id, with_for_update=True)
    if run is None or run.status != "pending":
        return False
    run.status, run.handle, run.started_at = "running", handle, when
    return True


def _finish(session: Session, run_id: int, status: str, exit_code: int | None, text: str | None,
            message: str | None, when: datetime) -> JobRun | None:
    """Record the end of a run unless it ended already (a cancel and an exit race)."""
    run = session.get(JobRun, run_id, with_for_update=True)
    if run is None or run.status not in ACTIVE:
        return None
    run.status, run.exit_code, run.message, run.finished_at, run.handle = status, exit_code, message, when, None
    if text is not None:
        run.log = text
    return run
