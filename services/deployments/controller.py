"""The deployments' state machine: bring each deployment to its desired state, and run jobs.

The database holds what should be (``desired``); the runtime holds what is.  The controller
moves one towards the other and records each step in ``status``:

    pending -> starting -> ready            (started, then answering)
                       \\-> failed            (did not start, not ready in time, or died later)
    any     -> stopped                      (stopped by a user or after its idle timeout)

Every operation on one deployment runs under that deployment's lock, so two never interleave;
the long waits (fetching a model, waiting until ready) can be cut short by a stop, restart or
delete.  Handlers call these methods and answer at once; tests call them directly.  The
endpoint proxy reads `Endpoints`, which the controller keeps in step with the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any

from croniter import croniter
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .fetch import ModelFetcher
from .models import Deployment, Job, JobRun, utcnow
from .proxy import Endpoints
from .runtimes.base import MODEL_PORT, Handle, Runtime, Workload, make_workload_id
from .store import (
    active_runs,
    all_deployments,
    all_run_handles,
    delete_deployment,
    delete_job,
    deployment_by_id,
    due_jobs,
    new_run,
    record_access,
    set_next_run,
    update_deployment,
    update_run,
)
from .validation import parse_model_ref

log = logging.getLogger(__name__)

#: Lines of a failed workload's output kept in its message.
FAILURE_TAIL = 15
#: Most characters of a run's log kept in the database once the run is over.
MAX_SAVED_LOG = 1024 * 1024


class Cancelled(Exception):
    """A wait was cut short by a newer operation on the same deployment."""


def _handle(data: dict | None) -> Handle | None:
    return Handle(**data) if data else None


def _as_json(handle: Handle) -> dict:
    return dataclasses.asdict(handle)


def _naive(moment: datetime | None) -> datetime | None:
    """Naive UTC, as the database keeps times."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def resources_of(spec: dict):
    """The `Resources` a deployment's or job's spec asks for."""
    # Imported on use: importing mllab.hub runs its configuration modules, which import this service.
    from mllab.hub.backends.resources import Resources

    given = spec.get("resources") or {}
    return Resources(cpu_limit=given.get("cpu_limit"), mem_limit=given.get("mem_limit"), gpus=given.get("gpus", 0))


def next_cron_time(schedule: str, after: datetime) -> datetime:
    """The first time after ``after`` (naive UTC) that ``schedule`` names."""
    return croniter(schedule, after).get_next(datetime)


class Controller:
    """Brings deployments to their desired state and runs jobs, on one runtime backend.

    ``db`` is a `Database`, ``runtime`` a `Runtime`, ``endpoints`` the proxy's map,
    ``fetcher`` fetches model versions (None: models cannot be deployed), ``prefix`` the
    service's URL prefix.  ``clock`` returns naive UTC (tests move it).
    """

    def __init__(
        self,
        db,
        runtime: Runtime,
        endpoints: Endpoints,
        fetcher: ModelFetcher | None = None,
        *,
        ready_timeout: float = 120,
        ready_interval: float = 0.5,
        rollout_drain: float = 2,
        run_poll_interval: float = 1,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.endpoints = endpoints
        self.fetcher = fetcher
        self.ready_timeout = ready_timeout
        self.ready_interval = ready_interval
        self.rollout_drain = rollout_drain
        self.run_poll_interval = run_poll_interval
        self.clock = clock
        self.http = AsyncHTTPClient(force_instance=True)
        self._locks: dict[int, asyncio.Lock] = {}
        #: Tasks now in a wait that a newer operation on the deployment may cut short.
        self._waits: dict[int, set[asyncio.Task]] = {}
        self._interrupted: set[asyncio.Task] = set()
        #: How many times each deployment was interrupted, and that count when its current
        #: operation took it: an interruption in between ends the operation's next wait.
        self._epochs: dict[int, int] = {}
        self._held: dict[int, int] = {}
        #: Background work (started by `submit`), kept so it is not garbage-collected.
        self._tasks: set[asyncio.Task] = set()
        #: Watchers of the job runs in progress, by run id.
        self._watchers: dict[int, asyncio.Task] = {}

    # -- background work ---------------------------------------------------------------------

    def submit(self, work: Coroutine) -> asyncio.Task:
        """Run ``work`` in the background; its failure is logged, never lost."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Background work failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until no background work is left (tests)."""
        while self._tasks or any(not w.done() for w in self._watchers.values()):
            await asyncio.gather(*self._tasks, *self._watchers.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop the background work (workloads keep running: the next start adopts them)."""
        for task in [*self._tasks, *self._watchers.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._watchers.values(), return_exceptions=True)
        self.http.close()

    def _lock(self, deployment_id: int) -> asyncio.Lock:
        return self._locks.setdefault(deployment_id, asyncio.Lock())

    def interrupt(self, deployment_id: int) -> None:
        """Cut short the waits of the operation in progress on a deployment: a newer one comes.

        The operation that holds the deployment now (or when its wait begins) gets `Cancelled`
        in its next wait; operations that take the deployment after this call are not affected.
        """
        self._epochs[deployment_id] = self._epochs.get(deployment_id, 0) + 1
        for task in self._waits.get(deployment_id, ()):
            self._interrupted.add(task)
            task.cancel()

    @contextlib.asynccontextmanager
    async def _operation(self, deployment_id: int) -> AsyncIterator[None]:
        """Hold the deployment (one operation at a time), noting which interruptions came before."""
        async with self._lock(deployment_id):
            self._held[deployment_id] = self._epochs.get(deployment_id, 0)
            try:
                yield
            finally:
                self._held.pop(deployment_id, None)

    async def _interruptible(self, deployment_id: int, work: Coroutine) -> Any:
        """``work``'s result, or `Cancelled` if `interrupt` ends it (or came since the operation began)."""
        if self._epochs.get(deployment_id, 0) != self._held.get(deployment_id, 0):
            work.close()
            raise Cancelled()
        task = asyncio.ensure_future(work)
        waits = self._waits.setdefault(deployment_id, set())
        waits.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            if task in self._interrupted:
                raise Cancelled() from None
            raise
        finally:
            waits.discard(task)
            self._interrupted.discard(task)

    # -- deployments -------------------------------------------------------------------------

    async def _set(self, deployment_id: int, **changes: Any) -> Deployment | None:
        return await self.db.run(update_deployment, deployment_id, changes)

    async def _load(self, deployment_id: int) -> Deployment | None:
        return await self.db.run(deployment_by_id, deployment_id)

    def _publish(self, deployment: Deployment, url: str | None = None) -> None:
        """Tell the endpoint proxy where the deployment is and whether it takes requests."""
        self.endpoints.set(deployment.namespace, deployment.name, url, deployment.status)

    def describe(self, deployment: Deployment, version: int | None = None) -> str:
        """``model deployment users/alice/churn (version 3)`` / ``service deployment groups/x/web``."""
        text = f"{deployment.kind} deployment {deployment.full_name}"
        version = version if version is not None else deployment.model_version
        return f"{text} (version {version})" if deployment.kind == "model" and version else text

    async def _workload(self, deployment: Deployment, version: int | None) -> Workload:
        """What to run for ``deployment`` (a model at ``version``), the model fetched first."""
        spec = deployment.spec or {}
        token = secrets.token_hex(3)
        common = dict(
            id=make_workload_id(deployment.kind, deployment.namespace, deployment.name, token),
            kind=deployment.kind, namespace=deployment.namespace, name=deployment.name,
            env=dict(spec.get("env") or {}), resources=resources_of(spec), replicas=spec.get("replicas", 1),
        )
        if deployment.kind == "service":
            return Workload(**common, image=spec.get("image"), command=list(spec.get("command") or []),
                            port=spec.get("port"))
        ref = parse_model_ref(deployment.model)
        pinned = f"{ref.full_name}:{version}"
        model_dir = None
        if self.runtime.name != "kubernetes":  # pods pull the model themselves (an init container)
            if self.fetcher is None:
                raise RuntimeError("this service has no registry to fetch models from")
            model_dir = str(await self.fetcher.fetch(dataclasses.replace(ref, version=version), version))
        return Workload(**common, image=spec.get("image"), port=MODEL_PORT, model_dir=model_dir, model_ref=pinned)

    async def _wait_ready(self, deployment: Deployment, handle: Handle) -> None:
        """Until the workload answers: ``/v2/health/ready`` 200 for models, any HTTP answer for
        services.  RuntimeError with what went wrong if it ends or the timeout passes first."""
        if not handle.url:
            raise RuntimeError(f"the {self.runtime.name} runtime gave no address for it")
        base = handle.url.rstrip("/") + "/"
        url = base + "v2/health/ready" if deployment.kind == "model" else base
        deadline = asyncio.get_running_loop().time() + self.ready_timeout
        while True:
            request = HTTPRequest(url, request_timeout=min(5, max(self.ready_timeout, 0.5)), follow_redirects=False)
            try:
                response = await self.http.fetch(request, raise_error=False)
                code = response.code
            except OSError:
                code = 599
            if code != 599 and (deployment.kind != "model" or code == 200):
                return
            state = await self.runtime.state(handle)
            if state.phase != "running":
                raise RuntimeError(self._ended(state))
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"not ready after {self.ready_timeout:g} s")
            await asyncio.sleep(self.ready_interval)

    @staticmethod
    def _ended(state) -> str:
        text = f"it exited with code {state.exit_code}" if state.phase == "exited" else "it is gone from the runtime"
        return f"{text} ({state.message})" if state.message else text

    async def _failure(self, handle: Handle | None, reason: str) -> str:
        """``reason``, with the last lines the workload wrote."""
        if handle is None:
            return reason
        try:
            tail = (await self.runtime.logs(handle, tail=FAILURE_TAIL)).strip()
        except Exception:  # the logs only add detail
            log.debug("No logs of %s", handle.workload_id, exc_info=True)
            tail = ""
        return f"{reason}; last output:\n{tail}" if tail else reason

    async def _stop_handle(self, handle: Handle | None, subject: str) -> None:
        if handle is None:
            return
        log.info("Stopping %s (%s)", subject, handle.workload_id)
        await self.runtime.stop(handle)

    async def bring_up(self, deployment_id: int) -> None:
        """Start a deployment whose desired state is ``running``, or adopt what runs for it, and
        wait until it is ready; status ``ready``, or ``failed`` with a message."""
        async with self._operation(deployment_id):
            deployment = await self._load(deployment_id)
            if deployment is None or deployment.desired != "running":
                return
            await self._bring_up(deployment)

    async def _bring_up(self, deployment: Deployment) -> None:
        handle = _handle(deployment.handle)
        if handle is not None:
            state = await self.runtime.state(handle)
            if state.phase == "running":
                log.info("Adopting %s (%s)", self.describe(deployment), handle.workload_id)
                await self._await_ready(deployment, handle, deployment.model_version)
                return
            await self._stop_handle(handle, self.describe(deployment))
            deployment = await self._set(deployment.id, handle=None)
            if deployment is None:
                return
        version = deployment.model_version
        try:
            deployment = await self._set(deployment.id, status="pending", message=None)
            if deployment is None:
                return
            self._publish(deployment)
            workload = await self._interruptible(deployment.id, self._workload(deployment, version))
            log.info("Starting %s", self.describe(deployment, version))
            handle = await self.runtime.start(workload)
        except Cancelled:
            log.info("Start of %s interrupted", self.describe(deployment))
            return
        except Exception as e:
            await self._fail(deployment, None, f"could not start: {_reason(e)}")
            return
        deployment = await self._set(deployment.id, status="starting", handle=_as_json(handle))
        if deployment is None:  # deleted meanwhile
            await self._stop_handle(handle, "workload of a deleted deployment")
            return
        self._publish(deployment)
        await self._await_ready(deployment, handle, version)

    async def _await_ready(self, deployment: Deployment, handle: Handle, version: int | None) -> None:
        try:
            await self._interruptible(deployment.id, self._wait_ready(deployment, handle))
        except Cancelled:
            log.info("Wait for %s interrupted", self.describe(deployment))
            return
        except Exception as e:
            await self._fail(deployment, handle, _reason(e))
            return
        deployment = await self._set(deployment.id, status="ready", message=None, started_at=self.clock())
        if deployment is not None:
            self._publish(deployment, handle.url)
            log.info("%s is ready at %s", self.describe(deployment, version).capitalize(), handle.url)

    async def _fail(self, deployment: Deployment, handle: Handle | None, reason: str) -> None:
        """Record a failure; a workload still running (not ready in time) is stopped, one that
        ended is kept until the next operation so that its logs can be read."""
        message = await self._failure(handle, reason)
        log.warning("%s failed: %s", self.describe(deployment).capitalize(), reason)
        if handle is not None:
            with contextlib.suppress(Exception):
                if (await self.runtime.state(handle)).phase == "running":
                    await self._stop_handle(handle, self.describe(deployment))
        deployment = await self._set(deployment.id, status="failed", message=message)
        if deployment is not None:
            self._publish(deployment)

    async def start(self, deployment_id: int) -> Deployment | None:
        """Desired ``running``; the start goes on in the background.  The deployment as it is now."""
        deployment = await self._set(deployment_id, desired="running")
        if deployment is not None and deployment.status in ("stopped", "failed"):
            deployment = await self._set(deployment_id, status="pending", message=None)
            self._publish(deployment)
        if deployment is not None:
            self.submit(self.bring_up(deployment_id))
        return deployment

    async def stop(self, deployment_id: int, message: str | None = None) -> Deployment | None:
        """Desired ``stopped``; its workload stopped and removed.  The deployment as it is now."""
        deployment = await self._set(deployment_id, desired="stopped")
        if deployment is None:
            return None
        self.interrupt(deployment_id)
        async with self._operation(deployment_id):
            deployment = await self._load(deployment_id)
            if deployment is None:
                return None
            if deployment.desired != "stopped":  # started again meanwhile
                return deployment
            await self._stop_handle(_handle(deployment.handle), self.describe(deployment))
            deployment = await self._set(deployment_id, status="stopped", handle=None, message=message)
            self._publish(deployment)
            return deployment

    async def restart(self, deployment_id: int) -> Deployment | None:
        """Stop its workload (if any) and start a new one, in the background."""
        deployment = await self._set(deployment_id, desired="running")
        if deployment is None:
            return None
        self.interrupt(deployment_id)
        deployment = await self._set(deployment_id, status="pending", message=None)
        self._publish(deployment)

        async def restart() -> None:
            async with self._operation(deployment_id):
                current = await self._load(deployment_id)
                if current is None or current.desired != "running":
                    return
                await self._stop_handle(_handle(current.handle), self.describe(current))
                current = await self._set(deployment_id, handle=None)
                if current is not None:
                    await self._bring_up(current)

        self.submit(restart())
        return deployment

    async def delete(self, deployment_id: int) -> None:
        """Stop and remove its workload, then its record; nothing is left behind."""
        self.interrupt(deployment_id)
        async with self._operation(deployment_id):
            deployment = await self._load(deployment_id)
            if deployment is None:
                return
            await self._stop_handle(_handle(deployment.handle), self.describe(deployment))
            await self.db.run(delete_deployment, deployment_id)
            self.endpoints.remove(deployment.namespace, deployment.name)
            log.info("Deleted %s", self.describe(deployment))
        self._locks.pop(deployment_id, None)
        self._epochs.pop(deployment_id, None)

    async def rollout(self, deployment_id: int, version: int | None) -> Deployment | None:
        """Replace the running workload with no failed request: start the new one (a model at
        ``version``, resolved again by the caller), wait until it is ready, switch the endpoint,
        then stop the old one.  A stopped or failed deployment is simply started at ``version``."""
        deployment = await self._load(deployment_id)
        if deployment is None:
            return None
        if deployment.status != "ready" or not deployment.handle or deployment.desired != "running":
            changes = {"model_version": version} if version is not None else {}
            await self._set(deployment_id, **changes)
            return await self.restart(deployment_id)
        target = version if version is not None else deployment.model_version
        old = deployment.model_version
        deployment = await self._set(deployment_id, status="starting", message=(
            f"Rolling out version {target}; version {old} serves meanwhile." if deployment.kind == "model"
            else "Rolling out a new workload; the old one serves meanwhile."))
        self.submit(self._rollout(deployment_id, target))
        return deployment

    async def _rollout(self, deployment_id: int, version: int | None) -> None:
        async with self._operation(deployment_id):
            deployment = await self._load(deployment_id)
            if deployment is None or deployment.desired != "running":
                return
            old = _handle(deployment.handle)
            old_version = deployment.model_version
            subject = self.describe(deployment, version)
            new: Handle | None = None
            try:
                workload = await self._interruptible(deployment_id, self._workload(deployment, version))
                log.info("Rolling out %s: starting %s", subject, workload.id)
                new = await self.runtime.start(workload)
                await self._interruptible(deployment_id, self._wait_ready(deployment, new))
            except Cancelled:
                log.info("Rollout of %s interrupted", subject)
                if new is not None:
                    await self._stop_handle(new, subject)
                return
            except Exception as e:
                reason = await self._failure(new, _reason(e))
                log.warning("Rollout of %s failed: %s", subject, _reason(e))
                if new is not None:
                    await self._stop_handle(new, subject)
                serving = f"version {old_version}" if deployment.kind == "model" else "the old workload"
                deployment = await self._set(deployment_id, status="ready", message=(
                    f"Rollout failed: {reason}; {serving} still serves."))
                return
            deployment = await self._set(deployment_id, status="ready", message=None, handle=_as_json(new),
                                         model_version=version, started_at=self.clock())
            if deployment is None:
                await self._stop_handle(new, subject)
                return
            self._publish(deployment, new.url)
            log.info("Switched %s to %s", subject, new.workload_id)
            # Requests already sent to the old workload finish before it goes.
            await asyncio.sleep(self.rollout_drain)
            await self._stop_handle(old, self.describe(deployment, old_version))

    async def logs(self, deployment: Deployment, tail: int | None) -> str:
        handle = _handle(deployment.handle)
        return await self.runtime.logs(handle, tail) if handle else ""

    def follow(self, deployment: Deployment) -> AsyncIterator[str] | None:
        handle = _handle(deployment.handle)
        return self.runtime.follow(handle) if handle else None

    # -- periodic checks ---------------------------------------------------------------------

    async def check(self) -> None:
        """One round of the periodic check: runtimes that died are ``failed``; accesses seen by
        the proxy are recorded; deployments idle longer than their timeout are stopped."""
        for deployment in await self.db.run(all_deployments):
            try:
                await self._check_one(deployment)
            except Exception:
                log.exception("Checking %s failed", self.describe(deployment))

    async def _check_one(self, deployment: Deployment) -> None:
        seen = _naive(self.endpoints.last_access(deployment.namespace, deployment.name))
        if seen is not None and (deployment.last_access is None or seen > deployment.last_access):
            await self.db.run(record_access, deployment.id, seen)
            deployment.last_access = seen
        if deployment.status != "ready" or deployment.desired != "running":
            return
        if self._lock(deployment.id).locked():  # an operation is under way; it records its own outcome
            return
        handle = _handle(deployment.handle)
        state = await self.runtime.state(handle) if handle else None
        if state is None or state.phase != "running":
            async with self._operation(deployment.id):
                current = await self._load(deployment.id)
                if current is None or current.status != "ready" or current.handle != deployment.handle:
                    return
                reason = "nothing runs for it" if state is None else self._ended(state)
                await self._fail(current, handle, f"the runtime stopped: {reason}")
            return
        if deployment.idle_timeout:
            since = max(filter(None, (deployment.last_access, deployment.started_at)), default=None)
            if since is not None and self.clock() - since > timedelta(seconds=deployment.idle_timeout):
                log.info("Stopping %s: idle since %s (idle timeout %d s)", self.describe(deployment),
                         since.isoformat(timespec="seconds"), deployment.idle_timeout)
                await self.stop(deployment.id, message=f"Stopped after {deployment.idle_timeout} s without requests.")

    async def reconcile(self) -> None:
        """At start-up: compare what the runtime runs with the database.  Adopt what still runs
        for its deployment (same workload id), start what should run but does not, stop what
        runs but should not or belongs to nothing known; watch the job runs in progress."""
        running = {handle.workload_id: handle for handle in await self.runtime.list()}
        deployments = await self.db.run(all_deployments)
        runs = await self.db.run(active_runs)
        known: set[str] = set()
        for deployment in deployments:
            handle = _handle(deployment.handle)
            if handle is None:
                continue
            if deployment.desired == "running" and handle.workload_id in running:
                listed = running[handle.workload_id]
                fresh = dataclasses.replace(handle, ref=listed.ref or handle.ref, url=listed.url or handle.url)
                if fresh != handle:
                    await self._set(deployment.id, handle=_as_json(fresh))
                known.add(handle.workload_id)
        for _job, run in runs:
            handle = _handle(run.handle)
            if handle is not None and handle.workload_id in running:
                known.add(handle.workload_id)
        # Ended runs whose log is still to be read keep their workload until their watcher saves it.
        for workload_id, handle in running.items():
            if workload_id not in known:
                log.info("Stopping workload %s: no deployment or job run wants it", workload_id)
                try:
                    await self.runtime.stop(handle)
                except Exception:
                    log.exception("Stopping workload %s failed", workload_id)
        for deployment in deployments:
            if deployment.desired == "running":
                self._publish(deployment)
                self.submit(self.bring_up(deployment.id))
            else:
                handle = _handle(deployment.handle)
                if handle is not None and handle.workload_id in known:
                    await self.stop(deployment.id)
                elif deployment.status != "stopped" or deployment.handle:
                    await self._set(deployment.id, status="stopped", handle=None)
                self.endpoints.set(deployment.namespace, deployment.name, None, "stopped")
        for job, run in runs:
            handle = _handle(run.handle)
            if handle is None or handle.workload_id not in running:
                await self.db.run(_finish_run, run.id, "failed", None, run.log,
                                  "The service restarted and the run's workload was gone.", self.clock())
                log.warning("Run %d of job %s was lost while the service was down", run.number, job.full_name)
            else:
                log.info("Adopting run %d of job %s (%s)", run.number, job.full_name, handle.workload_id)
                self._watch(job, run, handle)

    # -- jobs --------------------------------------------------------------------------------

    async def run_job(self, job_id: int, trigger: str = "manual") -> tuple[Job, JobRun]:
        """Record a run of the job and start it in the background; the run as recorded."""
        job, run = await self.db.run(new_run, job_id, trigger)
        log.info("Running job %s (run %d, %s)", job.full_name, run.number, trigger)
        self._watchers[run.id] = self.submit(self._run(job, run))
        return job, run

    async def _run(self, job: Job, run: JobRun) -> None:
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
            log.warning("Run %d of job %s could not start: %s", run.number, job.full_name, _reason(e))
            await self.db.run(_finish_run, run.id, "failed", None, None, f"could not start: {_reason(e)}",
                              self.clock())
            return
        recorded = await self.db.run(update_run, run.id, {"status": "running", "handle": _as_json(handle),
                                                          "started_at": self.clock()})
        if recorded is None or recorded.status != "running":  # cancelled or deleted meanwhile
            await self.runtime.stop(handle)
            return
        await self._watch_until_done(job, run, handle)

    def _watch(self, job: Job, run: JobRun, handle: Handle) -> None:
        self._watchers[run.id] = self.submit(self._watch_until_done(job, run, handle))

    async def _watch_until_done(self, job: Job, run: JobRun, handle: Handle) -> None:
        try:
            while True:
                state = await self.runtime.state(handle)
                if state.phase != "running":
                    break
                await asyncio.sleep(self.run_poll_interval)
            text = await self._saved_log(handle)
            if state.phase == "exited":
                status = "succeeded" if state.exit_code == 0 else "failed"
                message = None if status == "succeeded" else f"exited with code {state.exit_code}"
                if state.message:
                    message = f"{message or 'exited'} ({state.message})"
            else:
                status, message = "failed", "its workload disappeared"
            finished = await self.db.run(_finish_run, run.id, status, state.exit_code, text, message, self.clock())
            if finished:
                log.info("Run %d of job %s %s (exit code %s)", run.number, job.full_name, status, state.exit_code)
            await self.runtime.stop(handle)
        finally:
            self._watchers.pop(run.id, None)

    async def _saved_log(self, handle: Handle) -> str:
        try:
            text = await self.runtime.logs(handle)
        except Exception:
            log.exception("Reading the log of %s failed", handle.workload_id)
            return ""
        return text[-MAX_SAVED_LOG:]

    async def cancel_run(self, job: Job, run: JobRun) -> JobRun:
        """Stop a run in progress (status ``cancelled``, its log kept); a finished run stays as it is."""
        if run.status not in ("pending", "running"):
            return run
        watcher = self._watchers.pop(run.id, None)
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        current = await self.db.run(_load_run, run.id)
        if current is None or current.status not in ("pending", "running"):
            return current or run
        handle = _handle(current.handle)
        text = await self._saved_log(handle) if handle else None
        cancelled = await self.db.run(_finish_run, run.id, "cancelled", None, text, "cancelled", self.clock())
        if handle is not None:
            log.info("Cancelling run %d of job %s (%s)", run.number, job.full_name, handle.workload_id)
            await self.runtime.stop(handle)
        return cancelled or current

    async def run_logs(self, run: JobRun, tail: int | None) -> str:
        if run.log is not None or not run.handle:
            text = run.log or ""
            return "".join(text.splitlines(keepends=True)[-tail:]) if tail else text
        return await self.runtime.logs(_handle(run.handle), tail)

    def follow_run(self, run: JobRun) -> AsyncIterator[str] | None:
        if run.log is not None or not run.handle:
            return None
        return self.runtime.follow(_handle(run.handle))

    async def delete_job(self, job: Job) -> None:
        """Cancel its runs in progress, then remove the job and its history."""
        for other, run in await self.db.run(active_runs):
            if other.id == job.id:
                await self.cancel_run(job, run)
        await self.db.run(delete_job, job.id)
        log.info("Deleted job %s", job.full_name)

    async def run_schedules(self, now: datetime | None = None) -> list[JobRun]:
        """Start a run of every job whose ``next_run`` has come (``now``: naive UTC, default the
        clock), and move ``next_run`` on to the schedule's next time after now (runs missed
        while the service was down are not made up, one is run)."""
        now = now or self.clock()
        started = []
        for job in await self.db.run(due_jobs, now):
            try:
                following = next_cron_time(job.schedule, now) if job.schedule else None
                if await self.db.run(set_next_run, job.id, job.next_run, following):
                    started.append((await self.run_job(job.id, "schedule"))[1])
            except Exception:
                log.exception("Scheduled run of job %s failed", job.full_name)
        return started

    async def known_workloads(self) -> set[str]:
        """Workload ids the database refers to (tests)."""
        ids = {d.handle["workload_id"] for d in await self.db.run(all_deployments) if d.handle}
        return ids | {h["workload_id"] for h in await self.db.run(all_run_handles)}


def _reason(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return getattr(e, "message", None) or text


def _load_run(session, run_id: int) -> JobRun | None:
    return session.get(JobRun, run_id)


def _finish_run(session, run_id: int, status: str, exit_code: int | None, text: str | None, message: str | None,
                when: datetime) -> JobRun | None:
    """Record the end of a run unless it ended already (a cancel and an exit race)."""
    run = session.get(JobRun, run_id, with_for_update=True)
    if run is None or run.status not in ("pending", "running"):
        return None
    run.status, run.exit_code, run.message, run.finished_at, run.handle = status, exit_code, message, when, None
    if text is not None:
        run.log = text
    return run
