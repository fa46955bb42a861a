"""Hub side of ML Lab Hub: the platform options, the hub configuration and the launcher."""

from .hubconfig import configure
from .platform import MLLab

__all__ = ["MLLab", "configure"]
