"""Errors the services answer with: always JSON ``{"error": ..., "message": ...}``."""

from __future__ import annotations

from tornado.web import HTTPError

#: Short machine-readable codes for the HTTP statuses the services use.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid",
    500: "internal_error",
    503: "unavailable",
}


class APIError(HTTPError):
    """An HTTP error with a message meant for the person who made the request.

    ``error`` is a stable code clients can branch on; ``message`` says what is wrong and,
    where it can, what to do.
    """

    def __init__(self, status: int, message: str, error: str | None = None) -> None:
        super().__init__(status, log_message=message)
        self.error = error or ERROR_CODES.get(status, "error")
        self.message = message


def error_body(status: int, exc: BaseException | None) -> dict[str, str]:
    """The JSON body for an error response; never a traceback."""
    if isinstance(exc, APIError):
        return {"error": exc.error, "message": exc.message}
    if isinstance(exc, HTTPError) and exc.log_message:
        message = exc.log_message % exc.args if exc.args else exc.log_message
        return {"error": ERROR_CODES.get(status, "error"), "message": message}
    if status >= 500:
        return {"error": ERROR_CODES.get(status, "error"), "message": "Internal error; the service log has details."}
    return {"error": ERROR_CODES.get(status, "error"), "message": ERROR_CODES.get(status, "error").replace("_", " ")}
