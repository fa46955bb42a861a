"""The extension's error answers: a status, an error code and a message people can act on."""

from __future__ import annotations

from tornado import web


class LabError(web.HTTPError):
    """Answered as ``{"error": error, "message": message}`` with ``status`` (see ``handlers.LabHandler``)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(status)
        self.error = error
        self.message = message

    def __str__(self) -> str:
        return f"{self.status_code} {self.error}: {self.message}"


def bad_request(message: str) -> LabError:
    """A 400 saying ``message``, as a sentence (the client's rules start theirs in lower case)."""
    return LabError(400, "bad_request", message[:1].upper() + message[1:])
