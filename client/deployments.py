"""``client.deployments``: serve registered models and run services, call them, and operate them.

The deployments service (``<hub>/services/deployments/``, its ``API.md``) runs them; this module
speaks its REST API and the endpoints' two protocols (MLflow's ``invocations`` and the Open
Inference Protocol v2). A deployment is addressed ``users/alice/churn`` (or ``groups/<team>/<name>``),
or by its bare name in the caller's own namespace. :mod:`mllab.client.jobs` builds on the same
pieces for jobs.
"""

from __future__ import annotations

import builtins
import re
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from tqdm import tqdm

from .errors import MLLabError, RefError
from .refs import Ref, parse_namespace

if TYPE_CHECKING:
    from .client import Client

#: Deployment and job names name processes, containers and Kubernetes objects: DNS-1123 labels, <= 40.
NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
STATUSES = ("pending", "starting", "ready", "failed", "stopped")
PROTOCOLS = ("mlflow", "v2")
#: Reading a log that is followed may be silent for as long as the workload prints nothing.
FOLLOW_TIMEOUT = (15, None)


class SpecError(MLLabError, ValueError):
    """A deployment, service or job description that cannot be sent as it is (e.g. a model with a port)."""


class DeploymentFailed(MLLabError):
    """A deployment (or a job's run) ended ``failed`` while the caller waited for it."""


class WaitTimeout(MLLabError, TimeoutError):
    """What was waited for did not happen in time; it may still happen."""


# -- references and specs ------------------------------------------------------------------------

def check_workload_name(name: str, what: str = "deployment") -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise RefError(f"{what.capitalize()} name {name!r} is not valid: use 1-40 lowercase letters, digits and "
                       "'-', starting and ending with a letter or digit.")
    return name


def parse_workload_ref(text: str, what: str = "deployment") -> Ref:
    """``users/alice/churn`` or ``churn`` (namespace None, filled in later); versions are not part of it."""
    text = text.strip().strip("/")
    *owner, name = text.split("/")
    if ":" in name or "@" in name:
        raise RefError(f"{text!r} names a version: a {what} is addressed users/<user>/<name>, "
                       f"groups/<group>/<name> or just <name>; the model version is part of what it serves.")
    namespace = parse_namespace("/".join(owner)) if owner else None
    return Ref(namespace, check_workload_name(name, what))


def command_list(command: str | Sequence[str] | None) -> builtins.list[str] | None:
    """A command as the API takes it: a list of arguments (a string is split as a shell would, not run by one)."""
    if command is None:
        return None
    args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if not args:
        raise SpecError("The command is empty: give the program to run and its arguments.")
    return args


def resources_body(cpu: float | None = None, memory: int | str | None = None,
                   gpus: int | None = None) -> dict | None:
    """``{"cpu_limit", "mem_limit", "gpus"}`` with what is given (the service checks the values)."""
    body = {k: v for k, v in (("cpu_limit", cpu), ("mem_limit", memory), ("gpus", gpus)) if v is not None}
    return body or None


def without_none(body: Mapping[str, Any]) -> dict:
    return {k: v for k, v in body.items() if v is not None}


class StatusLine:
    """One line on stderr that says what is being waited for and its status (only on a terminal, unless ``show``)."""

    def __init__(self, what: str, show: bool | None = None) -> None:
        self._what = what
        disable = not sys.stderr.isatty() if show is None else not show
        self._bar = tqdm(desc=what, total=None, bar_format="{desc} ({elapsed})", disable=disable, file=sys.stderr,
                         leave=False, dynamic_ncols=True)

    def show(self, status: str) -> None:
        self._bar.set_description_str(f"{self._what}: {status}", refresh=True)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> StatusLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def poll_delays(interval: float) -> Iterator[float]:
    """0.25 s, then doubling up to ``interval``: quick answers for quick starts, few requests for slow ones."""
    delay = min(0.25, interval)
    while True:
        yield delay
        delay = min(delay * 2, interval)


def log_lines(response: requests.Response) -> Iterator[str]:
    """The lines of a streamed ``text/plain`` answer as they arrive; the connection closes when done."""
    try:
        # chunk_size=None: each chunk the service flushes, as it arrives (not 512-byte blocks).
        for line in response.iter_lines(chunk_size=None):
            yield line.decode("utf-8", "replace")
    finally:
        response.close()


class Workloads:
    """What deployments and jobs share: references, URLs, listing, reading, deleting."""

    collection = ""  # the REST collection: "deployments" or "jobs"
    noun = ""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    def ref(self, text: str | Ref, namespace: str | None = None) -> Ref:
        """``text`` parsed, with ``namespace`` (else the caller's own) where it names none."""
        ref = text if isinstance(text, Ref) else parse_workload_ref(text, self.noun)
        if namespace is not None and ref.namespace is not None and ref.namespace != parse_namespace(namespace):
            raise RefError(f"{str(text)!r} is in {ref.namespace}, not in the namespace given ({namespace}).")
        if ref.namespace is None:
            ref = ref.in_namespace(namespace or self._client.namespace)
        return ref

    def api_url(self, path: str) -> str:
        return urljoin(self._client.settings.deployments_url, "api/v1/" + path.lstrip("/"))

    def _url(self, ref: Ref, *rest: str) -> str:
        owner_kind, owner = ref.namespace.split("/", 1)
        return self.api_url("/".join([self.collection, owner_kind, quote(owner, safe=""), ref.name, *rest]))

    def list(self, namespace: str | None = None) -> builtins.list[dict]:
        """Those the caller may read, optionally only in ``namespace`` (``users/<user>`` or ``groups/<group>``)."""
        params = {"namespace": parse_namespace(namespace)} if namespace else {}
        return builtins.list(self._http.pages(self.api_url(self.collection), params))

    def get(self, ref: str | Ref) -> dict:
        return self._http.json("GET", self._url(self.ref(ref)))

    def delete(self, ref: str | Ref) -> None:
        """Stop what runs and remove it with its record (a job: its runs and their logs too)."""
        self._http.json("DELETE", self._url(self.ref(ref)))

    def _logs(self, url: str, tail: int | None, follow: bool) -> str | Iterator[str]:
        params: dict[str, Any] = {} if tail is None else {"tail": tail}
        if not follow:
            return self._http.request("GET", url, params=params).text
        response = self._http.request("GET", url, params={**params, "follow": "1"}, stream=True,
                                      timeout=FOLLOW_TIMEOUT)
        return log_lines(response)


class Deployments(Workloads):
    """Model deployments and services of the caller's namespaces.

    >>> d = client.deployments.create(model="users/alice/churn@production", wait=True)
    >>> client.deployments.predict("churn", {"dataframe_records": [{"age": 42, "plan": 2}]})
    {'predictions': [1]}
    """

    collection = "deployments"
    noun = "deployment"

    def create(self, model: str | None = None, *, name: str | None = None, namespace: str | None = None,
               image: str | None = None, command: str | Sequence[str] | None = None, port: int | None = None,
               env: Mapping[str, str] | None = None, cpu: float | None = None, memory: int | str | None = None,
               gpus: int | None = None, replicas: int | None = None, idle_timeout: float | None = None,
               wait: bool = False, timeout: float = 600, progress: bool | None = None) -> dict:
        """Deploy a registered model (``model``), or a service (``name`` with ``image`` or ``command``, and ``port``).

        A model reference names a version (``users/alice/churn@production``, ``churn:3``); the
        deployment is named after the model, in the model's namespace, unless ``name`` (which may be
        ``groups/<team>/<name>``) or ``namespace`` say otherwise. ``image`` is a runtime image for a model
        that needs other packages. A service runs ``image`` (container backends; ``command`` overrides its
        command) or ``command`` (local backend), listening on ``$HOST`` and ``port`` (also in ``$PORT``).
        ``cpu`` (cores), ``memory`` (bytes or ``"2G"``) and ``gpus`` are limits; ``idle_timeout`` stops
        it after that many seconds without a request (0: never).

        Answers the Deployment (status ``pending``); with ``wait``, the Deployment once ``ready``.
        """
        resources = resources_body(cpu, memory, gpus)
        common = {"image": image, "env": dict(env) if env is not None else None, "resources": resources,
                  "idle_timeout": idle_timeout}
        if model is not None:
            given = [k for k, v in (("command", command), ("port", port), ("replicas", replicas)) if v is not None]
            if given:
                raise SpecError(f"A model deployment takes no {', '.join(given)}: the model server has its own; "
                                "deploy a service (name, image or command, port) to run a program of your own.")
            body = {"model": str(self._client.models.ref(model)), **common}
            if name is not None:
                target = parse_workload_ref(name)
                if namespace is not None:
                    target = self.ref(target, namespace)
                body.update(namespace=target.namespace, name=target.name)
            elif namespace is not None:
                body["namespace"] = parse_namespace(namespace)
        else:
            if name is None:
                raise SpecError("Give a model to deploy, or a name (with an image or a command, and a port) "
                                "for a service.")
            if image is None and command is None:
                raise SpecError(f"Service {name!r} needs an image or a command to run.")
            if port is None:
                raise SpecError(f"Service {name!r} needs the port it listens on (its $PORT).")
            target = self.ref(name, namespace)
            body = {"namespace": target.namespace, "name": target.name, **common, "command": command_list(command),
                    "port": port, "replicas": replicas}
        deployment = self._http.json("POST", self.api_url(self.collection), json=without_none(body))
        if wait:
            return self.wait(deployment["full_name"], timeout=timeout, progress=progress)
        return deployment

    # -- operating -----------------------------------------------------------------------------

    def start(self, ref: str | Ref) -> dict:
        """Run it again after ``stop`` (desired state ``running``)."""
        return self._http.json("POST", self._url(self.ref(ref), "start"))

    def stop(self, ref: str | Ref) -> dict:
        """Stop it and remove its runtime; the record stays, ``start`` brings it back."""
        return self._http.json("POST", self._url(self.ref(ref), "stop"))

    def restart(self, ref: str | Ref) -> dict:
        return self._http.json("POST", self._url(self.ref(ref), "restart"))

    def rollout(self, ref: str | Ref) -> dict:
        """Serve the version the model reference names now (after an alias moved), with no failed request."""
        return self._http.json("POST", self._url(self.ref(ref), "rollout"))

    def logs(self, ref: str | Ref, tail: int | None = None, follow: bool = False) -> str | Iterator[str]:
        """Its output: the last ``tail`` lines (the service's default: 200) as one string; with ``follow``, an
        iterator of lines that goes on as they come, until the runtime ends or the iterator is closed."""
        return self._logs(self._url(self.ref(ref), "logs"), tail, follow)

    def wait(self, ref: str | Ref, status: str = "ready", timeout: float = 600, *, progress: bool | None = None,
             interval: float = 2.0) -> dict:
        """Poll until the deployment's status is ``status``; answers the Deployment then.

        Raises :class:`DeploymentFailed` if it fails (waiting for another status), :class:`WaitTimeout`
        after ``timeout`` seconds. ``progress`` shows the status on stderr (None: only on a terminal).
        """
        if status not in STATUSES:
            raise SpecError(f"Status {status!r} is not one of {', '.join(STATUSES)}.")
        ref = self.ref(ref)
        deadline = time.monotonic() + timeout
        delays = poll_delays(interval)
        with StatusLine(ref.full_name, progress) as line:
            while True:
                deployment = self.get(ref)
                current = deployment["status"]
                line.show(current)
                if current == status:
                    return deployment
                if current == "failed":
                    raise DeploymentFailed(f"{ref.full_name} failed: {deployment.get('message') or 'no reason given'}."
                                           f" Its log: mllab deployments logs {ref.full_name}")
                if current == "stopped" and deployment.get("desired") == "stopped":
                    raise DeploymentFailed(f"{ref.full_name} is stopped; start it with: "
                                           f"mllab deployments start {ref.full_name}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(f"{ref.full_name} is still {current} after {timeout:.0f} s; it may get "
                                      f"there yet: mllab deployments show {ref.full_name}")
                time.sleep(min(next(delays), left))

    # -- calling -------------------------------------------------------------------------------

    def endpoint_url(self, ref: str | Ref) -> str:
        """The platform URL that serves it: ``<hub>/services/deployments/endpoints/<namespace>/<name>/``."""
        ref = self.ref(ref)
        owner_kind, owner = ref.namespace.split("/", 1)
        return urljoin(self._client.settings.deployments_url,
                       f"endpoints/{owner_kind}/{quote(owner, safe='')}/{ref.name}/")

    def url_of(self, deployment: Mapping[str, Any]) -> str:
        """The full endpoint URL of a Deployment answer (its ``url`` is a path on the hub)."""
        url = deployment.get("url") or ""
        if urlsplit(url).scheme:
            return url
        if url.startswith("/"):
            return urljoin(self._client.settings.hub_url, url)
        return self.endpoint_url(deployment["full_name"])

    def predict(self, ref: str | Ref, payload: Any, protocol: str = "mlflow") -> Any:
        """Send ``payload`` to a model deployment; answers its JSON.

        ``protocol="mlflow"``: ``POST invocations`` (``{"dataframe_split": ...}``,
        ``{"dataframe_records": ...}``, ``{"instances": ...}`` or ``{"inputs": ...}`` ->
        ``{"predictions": [...]}``); ``"v2"``: the Open Inference Protocol, ``POST v2/models/<name>/infer``
        (``{"inputs": [{"name", "shape", "datatype", "data"}]}`` -> ``{"model_name", "outputs": [...]}``).
        """
        if protocol not in PROTOCOLS:
            raise SpecError(f"Protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}.")
        ref = self.ref(ref)
        path = "invocations" if protocol == "mlflow" else f"v2/models/{ref.name}/infer"
        return self._http.json("POST", self.endpoint_url(ref) + path, json=payload)
