"""What the client raises: one base class, so callers and the CLI catch one thing."""

from __future__ import annotations


class MLLabError(Exception):
    """Something the person using the client can act on; ``str()`` says what and what to do."""


class ConfigError(MLLabError):
    """The client cannot tell which hub to talk to, or with which token."""


class RefError(MLLabError, ValueError):
    """A dataset or model reference that cannot be parsed, e.g. ``users/alice/iris:three``."""


class ManifestError(MLLabError, ValueError):
    """A local file or folder that cannot be pushed as it is (unreadable, unsupported path)."""


class IntegrityError(MLLabError):
    """Downloaded bytes do not match the size or sha256 the registry recorded."""


class RegistryError(MLLabError):
    """The registry answered with an error: its HTTP status, error code and message.

    ``status`` is 0 when no answer came back at all (connection refused, timeout).
    """

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{message} ({status} {error})" if status else message)
        self.status = status
        self.error = error
        self.message = message
