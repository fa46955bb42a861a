"""Cursor (keyset) pagination of the services' lists: ``?limit=&after=<cursor>``.

A cursor is the sort key of the last item of the page before, and the next page is the items
whose key comes after it, found through the index that serves the list's order.  So a page costs
the same wherever it lies in a list of any length, and items added or removed between pages never
make another appear twice or go missing, as they would with offsets.  There is no total: counting
a large catalogue costs more than the page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from .errors import APIError

T = TypeVar("T")

#: The most items a page of a list holds (``?limit=``).
MAX_LIMIT = 500
DEFAULT_LIMIT = 50
#: Longer than any cursor made here (two names of at most 300 and 128 characters, base64).
MAX_CURSOR = 1024


def _bad_cursor(why: str) -> APIError:
    return APIError(400, f"after is not a cursor of this list ({why}); pass the next of the page before, or "
                         "nothing for the first page.", "bad_cursor")


def encode_cursor(key: Sequence[str | int]) -> str:
    """The opaque text for a sort key: base64url of its JSON, without padding."""
    text = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple:
    """The sort key a cursor holds (its values unchecked against a list: `keyset_page` does that)."""
    if len(cursor) > MAX_CURSOR:
        raise _bad_cursor("too long")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise _bad_cursor("not base64url of JSON") from None
    if not isinstance(key, list) or not key:
        raise _bad_cursor("not a sort key")
    return tuple(key)


@dataclass(frozen=True)
class PageRequest:
    """What the caller asked for: ``limit`` items after the key ``after`` (None: from the start)."""

    limit: int = DEFAULT_LIMIT
    after: tuple | None = None


@dataclass
class Page(Generic[T]):
    """The rows of one page and the cursor of the next (None on the last page)."""

    rows: list[T] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT
    next: str | None = None

    def json(self, items: list) -> dict[str, Any]:
        """The answer's body: ``items`` (the rows as views), ``limit`` and ``next``."""
        return {"items": items, "limit": self.limit, "next": self.next}


def _check_key(after: tuple, order: Sequence[InstrumentedAttribute]) -> None:
    if len(after) != len(order):
        raise _bad_cursor("wrong length")
    for value, column in zip(after, order, strict=True):
        wanted = column.type.python_type
        # bool is an int to Python, never a key here; NUL is refused by PostgreSQL in text.
        if type(value) is not wanted or (wanted is int and not -(2**31) <= value < 2**31) or (
            wanted is str and ("\x00" in value or len(value) > MAX_CURSOR)
        ):
            raise _bad_cursor("wrong values")


def keyset_page(session: Session, query: Select, order: Sequence[InstrumentedAttribute], request: PageRequest,
                descending: bool = False) -> Page:
    """One page of ``query``'s entities in the order of the ``order`` columns (together unique, and the order of
    an index that the query's equalities leave as a range)."""
    if request.after is not None:
        _check_key(request.after, order)
        key = tuple_(*order)
        query = query.where(key < tuple_(*request.after) if descending else key > tuple_(*request.after))
    query = query.order_by(*(c.desc() if descending else c.asc() for c in order)).limit(request.limit + 1)
    return _page(list(session.scalars(query)), request.limit, order)


def partitioned_page(session: Session, query: Select, partition: InstrumentedAttribute, values: Iterable[str],
                     order: InstrumentedAttribute, request: PageRequest) -> Page:
    """One page of ``query``'s entities whose ``partition`` (a namespace, say) is one of ``values``, by partition
    (in Python's order of the values) then by ``order`` (the database's), with cursors of both.

    Each value is its own index range (``partition = v AND order > after ORDER BY order``), read value by value
    until the page is full.  One scan with ``partition IN (...)`` would pass over the rows of every other value in
    between (PostgreSQL before 17 cannot keep an index's order with a list on its second column), and an equality
    next to a row comparison loses the comparison's start position: both cost as much as the catalogue is large.
    """
    after = request.after
    if after is not None:
        _check_key(after, (partition, order))
    rows: list = []
    for value in sorted(set(values)):
        if after is not None and value < after[0]:
            continue
        member = query.where(partition == value)
        if after is not None and value == after[0]:
            member = member.where(order > after[1])
        rows += session.scalars(member.order_by(order).limit(request.limit + 1 - len(rows)))
        if len(rows) > request.limit:
            break
    return _page(rows, request.limit, (partition, order))


def _page(rows: list, limit: int, order: Sequence[InstrumentedAttribute]) -> Page:
    # One row past the page says that another page follows.
    if len(rows) <= limit:
        return Page(rows, limit, None)
    rows = rows[:limit]
    return Page(rows, limit, encode_cursor([getattr(rows[-1], c.key) for c in order]))
