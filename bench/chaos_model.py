"""What `make chaos` compares: the effects a scenario sent (its model) against what the stack
holds at the end, counted per effect kind.

An effect is one observation stored by the metrics service, one observation folded into the
audit's read model, one ledger entry booked by the budget, one post published (on the
platform, in the calendar and as one `PostPublished`), or one event's worth of content (each
observation counted in exactly one `MetricsIngested`, each spend line in exactly one). For each
kind the model holds the keys that must be there once; what was found is a count per key.
`lost` are keys found 0 times, `duplicates` the extra copies of keys found more than once,
`unexpected` keys that were never sent (a poison message stored, say).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tally:
    """One effect kind at the end of a scenario."""

    expected: int
    stored: int  # distinct expected keys found at least once
    duplicates: int  # copies beyond the first, over all keys
    lost: int
    unexpected: int  # keys found that the model never sent

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.unexpected == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "unexpected": self.unexpected,
        }


def tally(expected: Iterable[str], found: Mapping[str, int]) -> Tally:
    """Compare the keys that must exist once with how often each was found."""
    want = set(expected)
    counts = Counter({k: n for k, n in found.items() if n > 0})
    present = want & counts.keys()
    return Tally(
        expected=len(want),
        stored=len(present),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        lost=len(want - present),
        unexpected=len(counts.keys() - want),
    )


def total(tallies: Mapping[str, Tally]) -> Tally:
    """The sum over effect kinds (the scenario's row in the table)."""
    return Tally(
        expected=sum(t.expected for t in tallies.values()),
        stored=sum(t.stored for t in tallies.values()),
        duplicates=sum(t.duplicates for t in tallies.values()),
        lost=sum(t.lost for t in tallies.values()),
        unexpected=sum(t.unexpected for t in tallies.values()),
    )
