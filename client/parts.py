"""How a file is cut into S3 multipart parts: the rule the registry and the client share (API.md).

The client needs the parts before it asks for an upload, to declare each part's CRC32 (S3
then checks every part's bytes itself); the registry applies the same rule to hand out the
part URLs. Both sides import it from here so they cannot disagree.
"""

from __future__ import annotations

import base64

MiB = 1024 * 1024
MIN_PART_SIZE = 8 * MiB
MAX_PARTS = 10_000


def part_size_for(size: int) -> int:
    """Whole MiB, at least 8, so that the file fits in 10,000 parts (1 TiB -> 105 MiB)."""
    needed = -(-size // MAX_PARTS)
    return max(MIN_PART_SIZE, -(-needed // MiB) * MiB)


def part_sizes(size: int, part_size: int) -> list[int]:
    """Sizes of the parts of a ``size``-byte file; an empty file is one empty part."""
    count = max(1, -(-size // part_size))
    return [min(part_size, size - i * part_size) for i in range(count)]


def part_count(size: int) -> int:
    """Parts of a non-empty ``size``-byte file under the shared rule (0 for an empty one: nothing is sent)."""
    return len(part_sizes(size, part_size_for(size))) if size else 0


def crc32_text(crc: int) -> str:
    """A CRC32 as S3 writes it in ``x-amz-checksum-crc32``: base64 of its 4 big-endian bytes."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()
