"""A small recording HTTP server for the client's tests: scripted answers, every request kept.

``FakeService`` stands in for the hub's ``/hub/api/user`` and the deployments service's REST API
and endpoints (services/deployments/API.md); it is a real HTTP server on 127.0.0.1, so the client's
whole HTTP path (session, token header, errors, streaming) runs as it does against a hub.  The
``fake`` and ``client`` fixtures (``conftest.py``) start one and a `Client` of it.

Hand-written answers drift from what the service sends, and a client test passing on an answer
the service never gives proves nothing.  So both sides are held to the service's OpenAPI
document, built as the service builds it (`Contract`): `FakeService.on` refuses a scripted answer
whose status the operation does not document or whose body does not match its schema, and every
request the client sends that does not match its operation (path, parameters, body) is kept in
``FakeService.errors``, which the ``fake`` fixture turns into a failure.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema.exceptions import ValidationError, best_match
from mllab.services.deployments.app import DeploymentsApp
from mllab.services.openapi import JSON, openapi_document
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SERVICE = "/services/deployments/"
API = SERVICE + "api/v1/"
ENDPOINTS = SERVICE + "endpoints/"
#: JupyterHub's own API: its package ships no OpenAPI document to hold the fake's answers to.
HUB = "/hub/"


@dataclass
class Answer:
    """One scripted answer: JSON (``body``), plain text (``text``), or a chunked stream of lines (``stream``:
    strings are sent as lines, a ``threading.Event`` is waited for before going on)."""

    status: int = 200
    body: Any = None
    text: str | None = None
    stream: list | None = None

    @property
    def media_type(self) -> str | None:
        """What the answer's ``Content-Type`` says, None for a 204 without a body."""
        if self.stream is not None or self.text is not None:
            return "text/plain"
        return None if self.body is None and self.status == 204 else JSON


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in self.query.items()}


class OffContract(AssertionError):
    """A scripted answer the deployments service's OpenAPI document does not allow."""


@dataclass(frozen=True)
class Operation:
    """The document's operation a request reaches: its path template, and the path's parameters."""

    method: str
    template: str
    spec: dict
    path_params: dict[str, str]

    @property
    def pointer(self) -> str:
        """The operation's JSON pointer in the document."""
        return f"/paths/{_escape(self.template)}/{self.method.lower()}"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _from_text(value: str, schema: dict) -> Any:
    """A path or query parameter as the service reads it: a number where the schema says so."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        return float(value)
    return value


class Contract:
    """The deployments service's OpenAPI document (`openapi.json`), made from its routes and schemas
    by the same code as the service's, and the checks of answers and requests against it."""

    URI = "urn:mllab:deployments:openapi.json"

    def __init__(self) -> None:
        app = DeploymentsApp()
        routes = app.all_routes()
        self.document = openapi_document(app.description, "test", SERVICE, routes, *app.openapi_schemas())
        # In Tornado's order, which is the routes' (the first that matches takes the request).
        self.routes = [(re.compile(route.pattern), route.openapi_path) for route in routes]
        self.registry = Registry().with_resource(self.URI, DRAFT202012.create_resource(self.document))

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation of ``method`` on ``path`` (a URL path under `SERVICE`), None if there is none."""
        if not path.startswith(SERVICE):
            return None
        local = path[len(SERVICE) - 1:]
        for pattern, template in self.routes:
            if match := pattern.fullmatch(local):
                spec = self.document["paths"].get(template, {}).get(method.lower())
                return None if spec is None else Operation(method, template, spec, match.groupdict())
        return None

    def mismatches(self, pointer: str, instance: Any, what: str) -> list[str]:
        """How ``instance`` breaks the schema at ``pointer`` in the document, one line each."""
        validator = OAS31Validator({"$ref": f"{self.URI}#{pointer}"}, registry=self.registry,
                                   format_checker=oas31_format_checker)
        return [_explain(what, error) for error in validator.iter_errors(instance)]

    def check_answer(self, op: Operation, answer: Answer) -> list[str]:
        responses = op.spec["responses"]
        code = str(answer.status)
        key = next((k for k in (code, code[0] + "XX", "default") if k in responses), None)
        if key is None:
            return [f"status {code} is not one the operation documents ({', '.join(responses)})"]
        content, media = responses[key].get("content"), answer.media_type
        if not content:
            return [] if media is None else [f"a {code} answer has no body in the document, this one is {media}"]
        if media is None:
            return [f"a {code} answer has a body in the document ({', '.join(content)}), this one has none"]
        kind = next((k for k in (media, media.split("/")[0] + "/*", "*/*") if k in content), None)
        if kind is None:
            return [f"a {code} answer is {', '.join(content)} in the document, not {media}"]
        if "schema" not in content[kind]:
            return []
        body = answer.body if media == JSON else answer.text if answer.text is not None else "".join(
            item + "\n" for item in answer.stream if isinstance(item, str))
        return self.mismatches(f"{op.pointer}/responses/{_escape(key)}/content/{_escape(kind)}/schema", body,
                               f"the {code} answer's body")

    def check_request(self, op: Operation, query: dict[str, list[str]], body: Any) -> list[str]:
        errors = []
        for i, param in enumerate(op.spec.get("parameters", [])):
            name, where, schema = param["name"], param["in"], param["schema"]
            if where == "path":
                values = [op.path_params[name]]
            elif where == "query":
                values = query.get(name, [])
            else:
                continue
            if not values:
                if param.get("required"):
                    errors.append(f"the {where} parameter {name!r} is required")
                continue
            if len(values) > 1:
                errors.append(f"the {where} parameter {name!r} is given {len(values)} times")
            errors += self.mismatches(f"{op.pointer}/parameters/{i}/schema", _from_text(values[0], schema),
                                      f"the {where} parameter {name!r}")
        request_body = op.spec.get("requestBody")
        if request_body is not None:
            if body is None:
                if request_body.get("required"):
                    errors.append("the operation requires a body, the request has none")
            elif JSON not in request_body["content"] or isinstance(body, bytes):
                errors.append(f"the body is not the {', '.join(request_body['content'])} the operation takes")
            else:
                errors += self.mismatches(f"{op.pointer}/requestBody/content/{_escape(JSON)}/schema", body,
                                          "the body")
        return errors


def _explain(what: str, error: ValidationError) -> str:
    # Under anyOf/oneOf the error itself only says "not valid under any"; the deepest of the
    # alternatives' errors says which field is wrong.
    best = best_match([error])
    return f"{what}: at {best.json_path}: {best.message}"


@cache
def contract() -> Contract:
    return Contract()


@dataclass
class FakeService:
    """Answers scripted per ``(method, path)``, in order, the last one repeated; records every request,
    and in ``errors`` how the requests break the deployments service's document."""

    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    user: str = "alice"

    def __post_init__(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                recorded = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body)
                service.requests.append(recorded)
                service.check_request(recorded)
                self._answer(service.answer_for(self.command, parts.path))

            def _answer(self, answer: Answer) -> None:
                if answer.stream is not None:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for item in answer.stream:
                        if isinstance(item, threading.Event):
                            item.wait(10)
                            continue
                        data = (item + "\n").encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                    return
                if answer.text is not None:
                    data, kind = answer.text.encode(), "text/plain; charset=utf-8"
                elif answer.media_type is None:
                    data, kind = b"", JSON
                else:
                    data, kind = json.dumps(answer.body).encode(), JSON
                self.send_response(answer.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.on("GET", "/hub/api/user", Answer(body={"name": self.user, "groups": [], "scopes": []}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def on(self, method: str, path: str, *answers: Answer) -> None:
        """Script the answers to ``method path``; `OffContract` if the service's document allows one not."""
        __tracebackhide__ = True
        if not path.startswith(HUB):
            op = contract().operation(method, path)
            if op is None:
                raise OffContract(f"{method} {path}: the deployments service has no such operation")
            for answer in answers:
                errors = contract().check_answer(op, answer)
                if errors:
                    raise OffContract(f"{method} {path}: a scripted answer the deployments service's OpenAPI "
                                      f"document ({op.method} {op.template}) does not allow:\n  " + "\n  ".join(errors))
        self.routes[(method, path)] = list(answers)

    def check_request(self, request: Recorded) -> None:
        """Keep in ``errors`` how ``request`` breaks the operation it is sent to."""
        if request.path.startswith(HUB):
            return
        op = contract().operation(request.method, request.path)
        if op is None:
            self.errors.append(f"{request.method} {request.path}: the deployments service has no such operation")
            return
        self.errors += [f"{request.method} {request.path}: {error}"
                        for error in contract().check_request(op, request.query, request.body)]

    def answer_for(self, method: str, path: str) -> Answer:
        answers = self.routes.get((method, path))
        if not answers:
            return Answer(404, {"error": "not_found", "message": f"no route {method} {path} in the fake"})
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def sent(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and
                (path is None or r.path == path) and r.path != "/hub/api/user"]

    def __enter__(self) -> FakeService:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
