"""What the deployments service accepts: names, specs, resources, images and schedules, checked
before anything is started or recorded.

Every check raises ``APIError(400, ...)`` with a message that names the offending value.  The
checks that depend on the service's settings (the runtime backend, the workspace backend, the
allowed images) take them as arguments, so they stay plain functions a test can call.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from croniter import croniter
from mllab.client import protocol
from mllab.client.protocol import ProtocolError

from ..errors import APIError

#: DNS-1123 labels of at most 40 characters: they name processes, containers and Kubernetes objects.
NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
NAME_RULE = ("use 1-40 lowercase letters, digits or '-', starting and ending with a letter or digit (it names "
             "processes, containers and Kubernetes objects).")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)([KkMmGgTt][Ii]?)?")
#: A container image reference: printable ASCII without spaces (what registries and engines take).
IMAGE = re.compile(r"[!-~]{1,512}")
#: A cron expression's five fields (minute hour day month weekday), separated by spaces.
SCHEDULE = re.compile(r"[!-~]+(?: +[!-~]+){4}")
#: A job's run number in a URL.
RUN_NUMBER = re.compile(r"[0-9]{1,9}")
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}

MAX_ENV = 100
MAX_ENV_VALUE = 32 * 1024
MAX_COMMAND = 100
MAX_ARGUMENT = 4096
MAX_CPUS = 1024.0
MIN_MEMORY = 4 * 2**20
MAX_MEMORY = 16 * 2**40
MAX_GPUS = 16
MAX_REPLICAS = 10
MAX_IDLE_TIMEOUT = 90 * 24 * 3600
#: Variables the platform sets itself.
RESERVED_ENV = {"PORT"}

RESOURCE_FIELDS = {"cpu_limit": (int, float), "mem_limit": (int, str), "gpus": int}
MODEL_FIELDS = {"model": str, "namespace": str, "name": str, "image": str, "env": dict, "resources": dict,
                "idle_timeout": int}
SERVICE_FIELDS = {"namespace": str, "name": str, "image": str, "command": list, "env": dict, "port": int,
                  "resources": dict, "replicas": int, "idle_timeout": int}
JOB_FIELDS = {"namespace": str, "name": str, "image": str, "command": list, "env": dict, "resources": dict,
              "schedule": str}


def bad(message: str) -> APIError:
    """The request does not match the OpenAPI document (a type, a pattern, a limit it states)."""
    return APIError(400, message)


def inconsistent(message: str) -> APIError:
    """The request matches the document, but a value is not possible here: a rule no schema states
    (this service's runtime, a size's range written with a unit, a cron field's range)."""
    return APIError(422, message)


def whole(value: Any) -> Any:
    """``value``, an integral float as the int it is: JSON has one number type, and JSON Schema
    calls 3.0 an integer, whatever wrote it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def fields(body: dict, required: Iterable[str], allowed: dict[str, type | tuple]) -> dict:
    """``body`` with only known fields of the right JSON types; 400 naming the first that is not."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad(f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}.")
    for name in required:
        if body.get(name) is None:
            raise bad(f"field {name!r} is required.")
    checked = {}
    for name, value in body.items():
        expected = allowed[name]
        types = expected if isinstance(expected, tuple) else (expected,)
        if value is None:
            continue
        if int in types and float not in types:
            value = whole(value)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise bad(f"field {name!r} has the wrong type ({type(value).__name__}).")
        checked[name] = value
    return checked


def check_name(name: Any, what: str = "name") -> str:
    try:
        return protocol.check_pattern(name, NAME, what, NAME_RULE)
    except ProtocolError as e:
        raise bad(str(e)) from None


def check_namespace(namespace: Any) -> str:
    try:
        return protocol.check_namespace(namespace)
    except ProtocolError as e:
        raise bad(str(e)) from None


@dataclass(frozen=True)
class ModelRef:
    """A registry reference to a model: ``users/alice/churn@production`` -> namespace, name, version."""

    namespace: str
    name: str
    #: A number (pinned), or an alias (``latest`` when none was written).
    version: int | str

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        if isinstance(self.version, int):
            return f"{self.full_name}:{self.version}"
        return f"{self.full_name}@{self.version}"


def parse_model_ref(text: Any) -> ModelRef:
    try:
        namespace, name, version = protocol.split_ref(text)
    except ProtocolError as e:
        raise bad(f"model: {e}") from None
    if namespace is None:
        raise bad(f"model {text!r} must name its namespace: users/<user>/<name>[:N|@alias].")
    return ModelRef(namespace, name, "latest" if version is None else version)


def parse_memory(value: Any) -> int:
    """Bytes from an integer or ``"512M"``/``"2G"``/``"1Gi"``."""
    if isinstance(value, bool):
        raise bad("resources.mem_limit must be bytes or a size like '512M' or '2G'.")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := MEMORY.fullmatch(value)):
        size = int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])
    else:
        raise bad(f"resources.mem_limit {value!r} must be bytes or a size like '512M' or '2G'.")
    if not MIN_MEMORY <= size <= MAX_MEMORY:
        # A number out of range breaks the document's bounds; a size with a unit, a rule it cannot state.
        refuse = bad if isinstance(value, int) else inconsistent
        raise refuse(f"resources.mem_limit {value!r} must be from 4M to 16Ti.")
    return size


def check_resources(value: Any) -> dict:
    """``{"cpu_limit"?, "mem_limit"?, "gpus"?}``, memory in bytes."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad("resources must be an object {cpu_limit?, mem_limit?, gpus?}.")
    unknown = sorted(set(value) - set(RESOURCE_FIELDS))
    if unknown:
        raise bad(f"unknown resource(s) {', '.join(map(repr, unknown))}; allowed: cpu_limit, mem_limit, gpus.")
    resources: dict[str, Any] = {}
    cpu = value.get("cpu_limit")
    if cpu is not None:
        if isinstance(cpu, bool) or not isinstance(cpu, (int, float)) or not 0 < cpu <= MAX_CPUS:
            raise bad(f"resources.cpu_limit {cpu!r} must be a number of cores above 0 and at most {MAX_CPUS:g}.")
        resources["cpu_limit"] = float(cpu)
    if value.get("mem_limit") is not None:
        resources["mem_limit"] = parse_memory(whole(value["mem_limit"]))
    gpus = whole(value.get("gpus"))
    if gpus is not None:
        if isinstance(gpus, bool) or not isinstance(gpus, int) or not 0 <= gpus <= MAX_GPUS:
            raise bad(f"resources.gpus {gpus!r} must be an integer from 0 to {MAX_GPUS}.")
        resources["gpus"] = gpus
    return resources


def check_env(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ENV:
        raise bad(f"env must be an object of at most {MAX_ENV} variables.")
    for key, item in value.items():
        if not ENV_NAME.fullmatch(key):
            raise bad(f"env variable name {key!r} is not valid: letters, digits and '_', not starting with a digit.")
        if key in RESERVED_ENV:
            raise bad(f"env variable {key} is set by the platform; remove it.")
        if not isinstance(item, str) or len(item) > MAX_ENV_VALUE or "\x00" in item:
            raise bad(f"env variable {key} must be a string of at most {MAX_ENV_VALUE // 1024} KiB.")
    return dict(value)


def check_command(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_COMMAND:
        raise bad(f"command must be a list of 1-{MAX_COMMAND} strings.")
    for argument in value:
        if not isinstance(argument, str) or len(argument) > MAX_ARGUMENT or "\x00" in argument:
            raise bad(f"command arguments must be strings of at most {MAX_ARGUMENT} characters without NUL.")
    if not value[0]:
        raise bad("command must start with a program.")
    return list(value)


def check_image_reference(image: str) -> str:
    if not IMAGE.fullmatch(image):
        raise bad(f"image {image!r} is not a container image reference.")
    return image


def check_image(image: str, allowed: Iterable[str]) -> str:
    """``image`` if one of the admin's patterns (fnmatch) allows it."""
    check_image_reference(image)
    if not any(fnmatch.fnmatchcase(image, pattern) for pattern in allowed):
        raise APIError(403, f"image {image!r} is not allowed here; ask an admin to allow it "
                            "(DeploymentsApp.allowed_images).", error="image_not_allowed")
    return image


def check_local_commands(workspace_backend: str, what: str) -> None:
    """403 unless the local runtime may run users' commands: only where workspaces run as the service's
    own OS user too (``workspace_backend == "local"``).  Under container workspaces a command would
    run with the rights of the platform itself (its secrets, its databases, its engine)."""
    if workspace_backend == "local":
        return
    where = f"workspaces run on {workspace_backend!r}" if workspace_backend else "the workspace backend is not set"
    raise APIError(403, f"the local runtime runs no {what} here: its command would run as the platform's own "
                        f"OS user, and {where} (DeploymentsApp.workspace_backend). Ask an admin to "
                        "run deployments on a container runtime (DeploymentsApp.runtime = 'docker' or "
                        "'kubernetes'), or deploy a model instead.", error="command_not_allowed")


def check_workload(spec: dict, settings: Settings, what: str) -> tuple[str | None, list]:
    """The image and command of a service or job (local runs commands, containers images)."""
    runtime, allowed_images = settings.runtime, settings.allowed_images
    image, command = spec.get("image"), check_command(spec.get("command"))
    if image is not None:
        check_image_reference(image)
    if runtime == "local":
        check_local_commands(settings.workspace_backend, what)
        if image is not None:
            raise inconsistent(f"the local runtime runs commands, not images: remove image from the {what}, "
                               "give command.")
        if not command:
            raise inconsistent(f"the local runtime needs a command for the {what}.")
        return None, command
    if image is None:
        raise inconsistent(f"the {runtime} runtime needs an image for the {what}.")
    return check_image(image, allowed_images), command


def check_idle_timeout(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_IDLE_TIMEOUT:
        raise bad(f"idle_timeout {value!r} must be seconds from 0 (never) to {MAX_IDLE_TIMEOUT}.")
    return value


def check_port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise bad(f"port {value!r} must be an integer from 1 to 65535.")
    return value


def check_replicas(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPLICAS:
        raise bad(f"replicas {value!r} must be an integer from 1 to {MAX_REPLICAS}.")
    return value


def check_schedule(value: Any) -> str | None:
    """A five-field cron expression (UTC), e.g. ``*/15 * * * *``."""
    if value is None:
        return None
    if not isinstance(value, str) or not SCHEDULE.fullmatch(value):
        raise bad(f"schedule {value!r} is not a cron expression of five fields (minute hour day month weekday) "
                  "separated by spaces, e.g. '0 3 * * *'.")
    if not croniter.is_valid(value):
        raise inconsistent(f"schedule {value!r} is not a valid cron expression: a field is out of its range, "
                           "e.g. minute 0-59, hour 0-23.")
    return " ".join(value.split())


@dataclass(frozen=True)
class Settings:
    """The service settings the checks depend on."""

    runtime: str = "local"
    allowed_images: tuple[str, ...] = ()
    model_image: str = ""
    default_idle_timeout: int = 0
    #: ``DeploymentsApp.workspace_backend``: the local runtime runs commands only under ``local``.
    workspace_backend: str = ""


def model_spec(body: dict, settings: Settings) -> tuple[ModelRef, dict]:
    """A model deployment's request: ``(model reference, deployment fields)``."""
    body = fields(body, ["model"], MODEL_FIELDS)
    ref = parse_model_ref(body["model"])
    namespace = check_namespace(body.get("namespace", ref.namespace))
    if "name" in body:
        name = check_name(body["name"])
    elif NAME.fullmatch(ref.name):
        name = ref.name
    else:
        raise inconsistent(f"model name {ref.name!r} is not a valid deployment name; give one in \"name\" "
                  "(1-40 lowercase letters, digits or '-').")
    image = body.get("image")
    if image is not None:
        check_image_reference(image)
        if settings.runtime == "local":
            raise inconsistent("the local runtime serves models in the service's environment: remove image, or ask "
                               "an admin for a container runtime.")
        check_image(image, (*settings.allowed_images, settings.model_image))
    spec = {
        "image": image or (settings.model_image if settings.runtime != "local" else None),
        "command": [],
        "env": check_env(body.get("env")),
        "port": None,
        "resources": check_resources(body.get("resources")),
        "replicas": 1,
    }
    return ref, {
        "namespace": namespace, "name": name, "kind": "model", "spec": spec,
        "idle_timeout": check_idle_timeout(body.get("idle_timeout"), settings.default_idle_timeout),
    }


def service_spec(body: dict, settings: Settings) -> dict:
    body = fields(body, ["namespace", "name", "port"], SERVICE_FIELDS)
    namespace, name = check_namespace(body["namespace"]), check_name(body["name"])
    image, command = check_workload(body, settings, "service")
    spec = {
        "image": image,
        "command": command,
        "env": check_env(body.get("env")),
        "port": check_port(body["port"]),
        "resources": check_resources(body.get("resources")),
        "replicas": check_replicas(body.get("replicas")),
    }
    return {
        "namespace": namespace, "name": name, "kind": "service", "spec": spec,
        "idle_timeout": check_idle_timeout(body.get("idle_timeout"), settings.default_idle_timeout),
    }


def job_spec(body: dict, settings: Settings) -> dict:
    body = fields(body, ["namespace", "name"], JOB_FIELDS)
    namespace, name = check_namespace(body["namespace"]), check_name(body["name"])
    image, command = check_workload(body, settings, "job")
    spec = {
        "image": image,
        "command": command,
        "env": check_env(body.get("env")),
        "resources": check_resources(body.get("resources")),
    }
    return {"namespace": namespace, "name": name, "spec": spec, "schedule": check_schedule(body.get("schedule"))}
