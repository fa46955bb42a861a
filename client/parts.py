"""Moved to :mod:`mllab.client.protocol`, with the other rules the client and the registry share.

Kept only for the modules that still import the part rule from here (``services/registry/transfers.py``,
``tests/registry/helpers.py``); delete it once they import it from ``protocol``.
"""

from .protocol import MAX_PARTS, MIN_PART_SIZE, MiB, crc32_text, part_count, part_size_for, part_sizes

__all__ = ["MAX_PARTS", "MIN_PART_SIZE", "MiB", "crc32_text", "part_count", "part_size_for", "part_sizes"]
