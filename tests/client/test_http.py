"""Turning error answers (the registry's JSON, S3's XML, a proxy's HTML) into one clear RegistryError."""

from __future__ import annotations

import pytest
import requests
from mllab.client.http import error_from_response


def response(status: int, body: bytes, url: str = "http://hub/services/registry/api/v1/datasets?x=secret"):
    r = requests.Response()
    r.status_code = status
    r._content = body
    r.url = url
    r.reason = "Reason"
    r.request = requests.Request("GET", url).prepare()
    return r


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        pytest.param(403, b'{"error": "forbidden", "message": "alice may not write"}', "forbidden",
                     "alice may not write", id="registry-json"),
        pytest.param(403, b"<?xml version='1.0'?><Error><Code>SignatureDoesNotMatch</Code><Message>bad sig"
                     b"</Message></Error>", "SignatureDoesNotMatch", "bad sig", id="s3-xml"),
        pytest.param(503, b"<html><body><h1>Service Unavailable</h1></body></html>", "http_error",
                     "Service Unavailable", id="proxy-html"),
        pytest.param(502, b"", "http_error", "Reason", id="empty-body"),
    ],
)
def test_error_from_response(status, body, error, message):
    e = error_from_response(response(status, body))
    assert (e.status, e.error) == (status, error)
    assert message in e.message
    assert "secret" not in str(e), "query strings (presigned credentials) are never shown"
