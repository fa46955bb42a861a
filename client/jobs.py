"""``client.jobs``: run an image or a command to completion, now or on a cron schedule, and read its runs.

A job is addressed like a deployment (``users/alice/etl`` or ``etl``); each time it runs makes a
numbered *run* with its status, exit code and log.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .deployments import (
    DeploymentFailed,
    SpecError,
    StatusLine,
    WaitTimeout,
    Workloads,
    command_list,
    poll_delays,
    resources_body,
    without_none,
)
from .errors import MLLabError
from .refs import Ref

#: Run statuses after which nothing changes.
FINISHED = ("succeeded", "failed", "cancelled")


class Jobs(Workloads):
    """Jobs of the caller's namespaces.

    >>> run = client.jobs.run("etl", ["python", "etl.py"], image="ghcr.io/acme/etl:1")
    >>> client.jobs.wait("etl", run["number"])["exit_code"]
    0
    """

    collection = "jobs"
    noun = "job"

    def create(self, name: str, command: str | Sequence[str] | None = None, *, image: str | None = None,
               env: Mapping[str, str] | None = None, schedule: str | None = None, namespace: str | None = None,
               cpu: float | None = None, memory: int | str | None = None, gpus: int | None = None) -> dict:
        """Create job ``name`` (``groups/<team>/<name>`` or a name in ``namespace``, else your own).

        It runs ``image`` (container backends; ``command`` overrides its command) or ``command`` (local
        backend). With ``schedule`` (a cron expression, UTC) it runs on that schedule; without, its first
        run starts now. Answers the Job, with its runs.
        """
        if image is None and command is None:
            raise SpecError(f"Job {name!r} needs an image or a command to run.")
        ref = self.ref(name, namespace)
        body = {"namespace": ref.namespace, "name": ref.name, "image": image, "command": command_list(command),
                "env": dict(env) if env is not None else None, "resources": resources_body(cpu, memory, gpus),
                "schedule": schedule}
        return self._http.json("POST", self.api_url(self.collection), json=without_none(body))

    def run(self, name: str | Ref, command: str | Sequence[str] | None = None, *, image: str | None = None,
            env: Mapping[str, str] | None = None, namespace: str | None = None, cpu: float | None = None,
            memory: int | str | None = None, gpus: int | None = None) -> dict:
        """Run a job now; answers the Run.

        Given an ``image`` or a ``command``, the job is created first (see :meth:`create`; a name
        already taken is a 409) and this is its first run. Given neither, job ``name`` exists and runs again.
        """
        if image is None and command is None:
            given = [k for k, v in (("env", env), ("cpu", cpu), ("memory", memory), ("gpus", gpus)) if v is not None]
            if given:
                raise SpecError(f"{', '.join(given)} describe a new job: give its image or command too (an existing "
                                "job runs as it was created).")
            return self._http.json("POST", self._url(self.ref(name, namespace), "runs"))
        job = self.create(str(name), command, image=image, env=env, namespace=namespace, cpu=cpu, memory=memory,
                          gpus=gpus)
        runs = job.get("runs") or self.runs(job["full_name"], limit=1)
        if not runs:
            raise MLLabError(f"{job['full_name']} was created but reports no run; see: mllab jobs show "
                             f"{job['full_name']}")
        return runs[0]

    def runs(self, ref: str | Ref, limit: int | None = None) -> builtins.list[dict]:
        """Its runs, newest first (at most ``limit``)."""
        return builtins.list(self._http.pages(self._url(self.ref(ref), "runs"), {}, limit))

    def get_run(self, ref: str | Ref, run: int | None = None) -> dict:
        """Run number ``run`` of a job; None: its newest run."""
        ref = self.ref(ref)
        if run is None:
            newest = self.runs(ref, limit=1)
            if not newest:
                raise MLLabError(f"{ref.full_name} has not run yet.")
            return newest[0]
        return self._http.json("GET", self._url(ref, "runs", str(int(run))))

    def _run_number(self, ref: Ref, run: int | None) -> int:
        return int(run) if run is not None else self.get_run(ref)["number"]

    def logs(self, ref: str | Ref, run: int | None = None, tail: int | None = None,
             follow: bool = False) -> str | Iterator[str]:
        """The output of run ``run`` (None: the newest); with ``follow``, an iterator of lines until it ends."""
        ref = self.ref(ref)
        number = self._run_number(ref, run)
        return self._logs(self._url(ref, "runs", str(number), "logs"), tail, follow)

    def cancel(self, ref: str | Ref, run: int | None = None) -> dict:
        """Cancel run ``run`` (None: the newest); answers the Run (``cancelled``)."""
        ref = self.ref(ref)
        number = self._run_number(ref, run)
        return self._http.json("POST", self._url(ref, "runs", str(number), "cancel"))

    def wait(self, ref: str | Ref, run: int | None = None, timeout: float = 3600, *, progress: bool | None = None,
             interval: float = 2.0, check: bool = False) -> dict:
        """Poll until run ``run`` (None: the newest) has finished; answers the Run.

        With ``check``, a run that did not succeed raises :class:`DeploymentFailed` (naming its exit status).
        """
        ref = self.ref(ref)
        number = self._run_number(ref, run)
        deadline = time.monotonic() + timeout
        delays = poll_delays(interval)
        with StatusLine(f"{ref.full_name} run {number}", progress) as line:
            while True:
                current = self.get_run(ref, number)
                line.show(current["status"])
                if current["status"] in FINISHED:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(f"Run {number} of {ref.full_name} is still {current['status']} after "
                                      f"{timeout:.0f} s: mllab jobs show {ref.full_name}")
                time.sleep(min(next(delays), left))
        if check and current["status"] != "succeeded":
            raise DeploymentFailed(f"Run {number} of {ref.full_name} {describe_end(current)}. Its log: "
                                   f"mllab jobs logs {ref.full_name} --run {number}")
        return current


def describe_end(run: Mapping[str, Any]) -> str:
    """``failed with exit status 3``, ``succeeded``, ``was cancelled``."""
    if run["status"] == "cancelled":
        return "was cancelled"
    if run["status"] == "failed" and run.get("exit_code") is not None:
        return f"failed with exit status {run['exit_code']}"
    return str(run["status"])
