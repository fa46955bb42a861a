"""Figures and their references measured in the same run, in rounds that alternate who goes first.

A side that always went first would always meet the colder caches (or always the warmer ones),
and drift on the machine during a round would always hit the same side last. Reversing the
order every other round (AB, BA, AB, ...; over two rounds ABBA) gives each side the first turn
in half the rounds, so both meet the same conditions over the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def in_turn(sides: Iterable[T], round_number: int) -> list[T]:
    """``sides`` in the order of round ``round_number``: as given in even rounds, reversed in odd ones."""
    ordered = list(sides)
    return ordered[::-1] if round_number % 2 else ordered
