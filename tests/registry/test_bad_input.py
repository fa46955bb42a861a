"""Bad input: each is a 4xx with a JSON error body, and nothing is stored."""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlsplit

import pytest

from .helpers import API, manifest, sha256


def assert_refused(answer, status: int = 400) -> dict:
    assert answer.status_code == status, (answer.status_code, answer.text)
    body = answer.json()
    assert set(body) == {"error", "message"} and body["message"]
    return body


def assert_nothing_stored(registry, ref: str) -> None:
    assert registry.get(f"datasets/{ref}").status_code == 404


def start_with(registry, ref: str, files: list[dict]):
    return registry.post(f"datasets/{ref}/uploads", json={"files": files})


GOOD = {"path": "ok.txt", "size": 2, "sha256": sha256(b"ok")}

BAD_FILES = {
    "traversal": {**GOOD, "path": "../../etc/passwd"},
    "traversal-inside": {**GOOD, "path": "a/../../b"},
    "absolute": {**GOOD, "path": "/etc/passwd"},
    "windows-drive": {**GOOD, "path": "C:/Windows/win.ini"},
    "backslash": {**GOOD, "path": "a\\..\\b"},
    "control-char": {**GOOD, "path": "a\x00b"},
    "newline": {**GOOD, "path": "a\nb"},
    "empty-segment": {**GOOD, "path": "a//b"},
    "dot-segment": {**GOOD, "path": "./a"},
    "too-long": {**GOOD, "path": "a" * 1025},
    "negative-size": {**GOOD, "size": -1},
    "huge-size": {**GOOD, "size": 6 * 1024**4},
    "size-not-int": {**GOOD, "size": "2"},
    "size-bool": {**GOOD, "size": True},
    "bad-sha": {**GOOD, "sha256": "xyz"},
    "upper-sha": {**GOOD, "sha256": sha256(b"ok").upper()},
    "unknown-file-field": {**GOOD, "mode": 755},
    "missing-sha": {"path": "a", "size": 1},
    "crc-not-base64": {**GOOD, "part_crc32": ["!!!!!!!!"]},
    "crc-five-bytes": {**GOOD, "part_crc32": ["AAAAAAA="]},
    "crc-not-a-list": {**GOOD, "part_crc32": "AAAAAA=="},
    "crc-number": {**GOOD, "part_crc32": [12345]},
    "sha-trailing-newline": {**GOOD, "sha256": sha256(b"ok") + "\n"},
    "media-type-trailing-newline": {**GOOD, "media_type": "text/plain\n"},
    "media-type-not-ascii": {**GOOD, "media_type": "t\u00e9xt/plain"},
}

#: Entries the OpenAPI document's schema accepts, whose values contradict each other: 422.
INCONSISTENT_FILES = {
    "empty-with-hash": {"path": "e", "size": 0, "sha256": sha256(b"x")},
    "crc-too-few": {**GOOD, "part_crc32": []},
    "crc-too-many": {**GOOD, "part_crc32": ["AAAAAA==", "AAAAAA=="]},
    "crc-on-empty-file": {"path": "e", "size": 0, "sha256": sha256(b""), "part_crc32": ["AAAAAA=="]},
}


@pytest.mark.parametrize("entry", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_entries(local_team, unique, entry):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('bad')}"
    assert_refused(start_with(alice, ref, [entry]))
    assert_nothing_stored(alice, ref)


@pytest.mark.parametrize("entry", INCONSISTENT_FILES.values(), ids=INCONSISTENT_FILES.keys())
def test_inconsistent_file_entries(local_team, unique, entry):
    """Found by schemathesis: the schema cannot state these rules, so they are 422s, not 400s."""
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('bad')}"
    assert_refused(start_with(alice, ref, [entry]), 422)
    assert_nothing_stored(alice, ref)


def test_duplicate_paths(local_team, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('dup')}"
    assert_refused(start_with(alice, ref, [GOOD, GOOD]), 422)
    assert_nothing_stored(alice, ref)


def test_equal_content_with_different_part_crc32s(local_team, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('crc')}"
    body = assert_refused(start_with(alice, ref, [{**GOOD, "part_crc32": manifest({"x": b"ok"})[0]["part_crc32"]},
                                                  {**GOOD, "path": "b.txt", "part_crc32": ["AAAAAA=="]}]), 422)
    assert "part_crc32" in body["message"]
    assert_nothing_stored(alice, ref)


BAD_NAMES = {
    "slash-encoded": "a%2Fb",
    "control": "a%01b",
    "leading-dot": ".hidden",
    "space": "a%20b",
    "too-long": "a" * 129,
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_artifact_names(local_team, name):
    alice = local_team.registry("alice")
    assert_refused(start_with(alice, f"users/alice/{name}", [GOOD]))
    from urllib.parse import unquote

    assert_refused(alice.post("datasets", json={"namespace": "users/alice", "name": unquote(name)}))
    assert alice.get("datasets", params={"q": unquote(name)[:50]}).json()["items"] == []


def test_bad_namespace(local_team):
    alice = local_team.registry("alice")
    assert_refused(alice.post("datasets", json={"namespace": "teams/x", "name": "n"}))
    assert_refused(alice.post("datasets", json={"namespace": "users/alice/extra", "name": "n"}))
    assert_refused(alice.get("datasets/projects/alice/n"), 400)


def test_malformed_json(local_team, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('json')}"
    for body in (b"{not json", b"[1, 2]", b"", b"\xff\xfe"):
        assert_refused(alice.post(f"datasets/{ref}/uploads", data=body))
    assert_nothing_stored(alice, ref)


def test_unknown_fields(local_team, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('unk')}"
    body = assert_refused(alice.post(f"datasets/{ref}/uploads", json={"files": [GOOD], "owner": "bob"}))
    assert "owner" in body["message"]
    assert_refused(alice.post("datasets", json={"namespace": "users/alice", "name": "n", "admin": True}))
    assert_nothing_stored(alice, ref)


def test_lineage_on_a_dataset_is_refused(local_team, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('lin')}"
    assert_refused(alice.post(f"datasets/{ref}/uploads", json={"files": [GOOD], "lineage": {"workspace": "x"}}))
    assert_nothing_stored(alice, ref)


def test_wrong_sha256_at_completion(local_team, unique):
    """The bytes sent do not match the declared hash: no version, and the session says so."""
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('sha')}"
    declared = {"path": "a.bin", "size": 5, "sha256": sha256(b"right")}
    upload = start_with(alice, ref, [declared]).json()
    transfer = upload["files"][0]["transfer"]
    # Bytes the document allows that contradict the declared hash: 422 (schemathesis, as 400, flagged it).
    assert_refused(alice.call("PUT", transfer["url"], data=b"wrong"), 422)
    # The PUT that brought the wrong bytes dropped them: nothing of a.bin was received.
    body = assert_refused(alice.post(f"uploads/{upload['id']}/complete"), 409)
    assert "a.bin" in body["message"]
    assert alice.get(f"datasets/{ref}/versions").json()["items"] == []


def test_completing_twice(local_team, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('twice')}"
    files = {"a": b"abc"}
    upload = alice.start(ref, files).json()
    alice.send(upload, files)
    assert alice.post(f"uploads/{upload['id']}/complete").status_code == 201
    assert_refused(alice.post(f"uploads/{upload['id']}/complete"), 409)
    assert len(alice.get(f"datasets/{ref}/versions").json()["items"]) == 1


def test_too_many_bytes_and_wrong_offset(local_team, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('off')}"
    content = ref.encode()  # content of its own: not stored yet
    upload = alice.start(ref, {"a": content}).json()
    url = upload["files"][0]["transfer"]["url"]
    # Found by schemathesis: a body the document allows, longer than the file, was a 400.
    assert_refused(alice.call("PUT", url, data=content * 2), 413)
    assert_refused(alice.call("PUT", url + "?offset=2", data=b"c"), 409)
    assert_refused(alice.call("PUT", url + "?offset=-1", data=b"c"), 400)
    # str.isdigit takes "²", int() does not: it was a 500.
    assert_refused(alice.call("PUT", url + "?offset=\u00b2", data=b"c"), 400)
    assert_refused(alice.call("PUT", url.replace(upload["files"][0]["sha256"], "0" * 64), data=b"c"), 404)


def test_writing_where_you_may_not(local_team, unique):
    """bob may not push to alice's namespace, nor send bytes into her session."""
    alice, bob = local_team.registry("alice"), local_team.registry("bob")
    ref = f"users/alice/{unique('theirs')}"
    content = ref.encode()
    assert_refused(bob.start(ref, {"a": content}), 403)
    assert_refused(bob.post("datasets", json={"namespace": "users/alice", "name": "mine"}), 403)
    assert_nothing_stored(alice, ref)
    upload = alice.start(ref, {"a": content}).json()
    assert_refused(bob.call("PUT", upload["files"][0]["transfer"]["url"], data=content), 403)
    assert_refused(bob.post(f"uploads/{upload['id']}/complete"), 403)
    assert_refused(bob.call("DELETE", f"uploads/{upload['id']}"), 403)


def test_lineage_needs_read_on_the_dataset(local_team, unique):
    alice, bob = local_team.registry("alice"), local_team.registry("bob")
    data = f"users/alice/{unique('private')}"
    alice.push(data, {"x": b"1"})
    model = f"users/bob/{unique('m')}"
    answer = bob.post(f"models/{model}/uploads", json={"files": manifest({"w": b"1"}), "lineage": {"datasets": [data]}})
    assert_refused(answer, 403)
    assert bob.get(f"models/{model}").status_code == 404


def test_bad_references(local_team, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('refs')}"
    alice.push(ref, {"a": b"1"})
    assert_refused(alice.get(f"datasets/{ref}/versions/0"), 400)
    assert_refused(alice.get(f"datasets/{ref}/versions/99"), 404)
    assert_refused(alice.get(f"datasets/{ref}/versions/no%20such"), 400)
    assert_refused(alice.get("datasets", params={"limit": 100000}), 400)
    assert_refused(alice.call("PUT", f"datasets/{ref}/aliases/prod", json={"version": "1"}), 400)
    assert_refused(alice.call("PUT", f"datasets/{ref}/aliases/prod", json={"version": 7}), 404)


#: Paths sent byte for byte (``requests`` would resolve the dot segments before sending):
#: method, path under the API, then (status, words of the message) through the hub's proxy
#: and at the service itself. The proxy resolves ``..`` and ``%2e%2e`` segments before routing
#: (the request then names another route, or none); the service gets them verbatim from
#: whoever reaches it directly. ``%2F`` is never a separator: it stays inside its segment.
NO_ROUTE = (404, "No such route")
RAW_PATHS = {
    "file-dotdot": ("GET", "datasets/users/alice/{name}/versions/1/files/../../etc/passwd",
                    NO_ROUTE, (404, "No file '../../etc/passwd'")),
    "file-encoded-dotdot": ("GET", "datasets/users/alice/{name}/versions/1/files/%2e%2e/%2e%2e/etc/passwd",
                            NO_ROUTE, (404, "No file '../../etc/passwd'")),
    "file-encoded-slash": ("GET", "datasets/users/alice/{name}/versions/1/files/a%2F..%2F..%2Fetc%2Fpasswd",
                           (404, "No file 'a/../../etc/passwd'"), (404, "No file 'a/../../etc/passwd'")),
    "owner-encoded-dotdot": ("GET", "datasets/users/%2e%2e/{name}", NO_ROUTE, (400, "owner '..' is not valid")),
    "owner-encoded-slash": ("GET", "datasets/users/alice%2F..%2Fbob/{name}",
                            (400, "namespace 'users/alice/../bob'"), (400, "namespace 'users/alice/../bob'")),
    "name-encoded-dotdot": ("GET", "datasets/users/alice/%2e%2e", NO_ROUTE, (400, "name '..' is not valid")),
    "name-encoded-slash": ("GET", "datasets/users/alice/{name}%2F..",
                           (400, "name 'rawpaths/..' is not valid"), (400, "name 'rawpaths/..' is not valid")),
    "version-encoded-dotdot": ("GET", "datasets/users/alice/{name}/versions/%2e%2e",
                               NO_ROUTE, (400, "alias '..' is not valid")),
    "version-encoded-slash": ("GET", "datasets/users/alice/{name}/versions/..%2F1",
                              (400, "alias '../1' is not valid"), (400, "alias '../1' is not valid")),
    "upload-id-encoded-slash": ("GET", "uploads/..%2F..%2Fx",
                                (404, "No upload session '../../x'"), (404, "No upload session '../../x'")),
    "blob-encoded-dotdot": ("PUT", "uploads/{upload}/blobs/%2e%2e", NO_ROUTE, (404, "'..' is not a sha256")),
    "blob-encoded-slash": ("PUT", "uploads/{upload}/blobs/..%2F..%2F{sha256}",
                           (404, "'../../{sha256}' is not a sha256"), (404, "'../../{sha256}' is not a sha256")),
    "push-dotdot-into-bob": ("POST", "datasets/users/alice/../bob/{name}/uploads",
                             (403, "alice may not write datasets in users/bob"), NO_ROUTE),
    "push-encoded-dotdot": ("POST", "datasets/users/alice/%2e%2e/uploads", NO_ROUTE, (400, "name '..' is not valid")),
    "push-encoded-slash-into-bob": ("POST", "datasets/users/alice/{name}%2F..%2F..%2Fbob%2F{name}/uploads",
                                    (400, "name 'rawpaths/../../bob/rawpaths' is not valid"),
                                    (400, "name 'rawpaths/../../bob/rawpaths' is not valid")),
}
ERRORS = {400: "bad_request", 403: "forbidden", 404: "not_found"}


def raw_request(url: str, method: str, path: str, token: str, body: bytes | None = None) -> tuple[int, dict]:
    """``method`` on ``path`` as written, at ``url`` (scheme and host), with ``token``."""
    conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
    try:
        conn.request(method, "/" + API + path, body=body,
                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def raw_targets(local_team):
    """alice (a dataset with a version, and an open upload), bob, and where to send: the proxy, the service itself."""
    alice = local_team.registry("alice")
    name = "rawpaths"
    alice.push(f"users/alice/{name}", {"a/b.txt": b"raw paths"})
    upload = alice.start(f"users/alice/{name}-open", {"x.bin": b"raw paths upload"}).json()
    values = {"name": name, "upload": upload["id"], "sha256": upload["files"][0]["sha256"]}
    service_url = local_team.hub.admin().api("GET", "services").json()["registry"]["url"]
    return alice, local_team.registry("bob"), values, {"proxy": local_team.hub.url, "service": service_url}


@pytest.mark.parametrize("target", ["proxy", "service"])
@pytest.mark.parametrize("case", RAW_PATHS.values(), ids=RAW_PATHS.keys())
def test_raw_dot_segments_and_encoded_slashes(local_team, raw_targets, case, target):
    alice, bob, values, urls = raw_targets
    method, path, via_proxy, at_service = case
    status, words = via_proxy if target == "proxy" else at_service
    body = json.dumps({"files": [GOOD]}).encode() if method == "POST" else b"x" if method == "PUT" else None
    got, answer = raw_request(urls[target], method, path.format(**values), alice.token, body)
    assert (got, set(answer), answer["error"]) == (status, {"error", "message"}, ERRORS[status]), answer
    assert words.format(**values) in answer["message"], answer
    assert bob.get("datasets/users/bob/rawpaths").status_code == 404, "nothing lands in bob's namespace"


# -- found by the schemathesis run (tests/fuzz) or while writing the schemas it checks -------------


def test_integral_numbers_written_as_floats(local_team, unique):
    """JSON has one number type and JSON Schema calls 1.0 an integer: the registry takes it as 1."""
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('float')}"
    alice.push(ref, {"a": b"1"})
    answer = alice.call("PUT", f"datasets/{ref}/aliases/prod", json={"version": 1.0})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"alias": "prod", "version": 1}
    assert_refused(alice.call("PUT", f"datasets/{ref}/aliases/prod", json={"version": 1.5}))
    other = f"users/alice/{unique('float')}"
    upload = start_with(alice, other, [{**GOOD, "size": 2.0}])
    assert upload.status_code == 201, upload.text
    assert upload.json()["files"][0]["size"] == 2


def test_tag_with_a_trailing_newline(local_team, unique):
    """The patterns are matched whole: ``$`` let "ok\\n" through as a tag."""
    alice = local_team.registry("alice")
    name = unique("tag")
    assert_refused(alice.post("datasets", json={"namespace": "users/alice", "name": name, "tags": ["ok\n"]}))
    assert_nothing_stored(alice, f"users/alice/{name}")
    alice.push(f"users/alice/{name}", {"a": b"1"})
    assert_refused(alice.call("PATCH", f"datasets/users/alice/{name}", json={"tags": ["ok", "fine\n"]}))
    assert alice.get(f"datasets/users/alice/{name}").json()["tags"] == []


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("POST", "datasets/users/alice/x/versions", "GET"),
    ("PUT", "datasets", "GET, POST"),
    ("PATCH", "uploads/" + "0" * 32, "GET, DELETE"),
    ("GET", "uploads/" + "0" * 32 + "/complete", "POST"),
], ids=["versions", "list", "upload", "complete"])
def test_method_not_allowed_says_which_are(local_team, method, path, allow):
    """RFC 9110: a 405 carries Allow, the methods the route implements."""
    answer = local_team.registry("alice").call(method, path)
    assert_refused(answer, 405)
    assert answer.headers["Allow"] == allow


def test_openapi_document_states_what_the_registry_enforces(local_team, unique):
    """Valid OpenAPI 3.1, and its path parameters carry the rules: a value they admit is not a 400."""
    from openapi_spec_validator import validate

    alice = local_team.registry("alice")
    doc = alice.get("openapi.json").json()
    validate(doc)
    operation = doc["paths"]["/api/v1/datasets/{owner_kind}/{owner}/{name}/versions/{ref}"]["get"]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert schemas["owner_kind"]["enum"] == ["users", "groups"]
    for name in ("iris", "a.b_c-1", "x" * 128):
        assert re.search(schemas["name"]["pattern"], name)
        assert alice.get(f"datasets/users/alice/{name}").status_code == 404
    for name in (".hidden", "a b", "x" * 129):
        assert not re.search(schemas["name"]["pattern"], name)
        assert_refused(alice.get(f"datasets/users/alice/{name}"))
    assert set(operation["responses"]) >= {"200", "4XX"}
    assert operation["responses"]["4XX"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}


def test_nul_in_free_text(local_team, unique):
    """PostgreSQL's text refuses NUL (psycopg raises DataError): free text holding one was a 500."""
    alice = local_team.registry("alice")
    name = unique("nul")
    assert_refused(alice.post("datasets", json={"namespace": "users/alice", "name": name, "description": "a\x00b"}))
    assert_nothing_stored(alice, f"users/alice/{name}")
    model = unique("nul")
    body = {"files": manifest({"w": b"weights"}), "lineage": {"flavor": "sklearn\x00"}}
    assert_refused(alice.post(f"models/users/alice/{model}/uploads", json=body))
    assert alice.get(f"models/users/alice/{model}").status_code == 404
