"""Apportionment of slots to a dimension's values (pillars, content types, journey stages).

How many: the largest remainder method (Hamilton): each value gets the whole part of its exact
quota, the seats left go to the largest fractional parts. Every count is then the floor or the
ceiling of its quota (the quota rule), so per 4-week block no value is a whole post off target.
In which order: the Sainte-Laguë (Webster) divisor sequence: the next slot goes to the value
with the highest count / (2 * given + 1), so values alternate in proportion instead of clumping.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction


def largest_remainder(
    seats: int, weights: Sequence[Fraction], tiebreak: Sequence[Fraction] | None = None
) -> list[int]:
    """Hamilton's apportionment of `seats` in proportion to `weights` (non-negative).

    Equal remainders are ordered by `tiebreak` (higher first; the planner passes how far each
    value is behind its target so far), then by position."""
    total = sum(weights, Fraction(0))
    if seats == 0 or total == 0:
        return [0] * len(weights)
    quotas = [Fraction(seats) * w / total for w in weights]
    counts = [q.numerator // q.denominator for q in quotas]
    left = seats - sum(counts)
    ties = tiebreak or [Fraction(0)] * len(weights)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), -ties[i], i))
    for i in order[:left]:
        counts[i] += 1
    return counts


def sainte_lague_sequence(counts: Sequence[int]) -> list[int]:
    """Indices of values in the order Sainte-Laguë's divisors (1, 3, 5, ...) give them seats,
    each value appearing `counts[i]` times; ties go to the earlier value.

    Quotients are compared as integers (a / b > c / d as a * d > c * b): exact like
    `Fraction`, without building one per comparison (this ran a third of a 12-month
    generation)."""
    given = [0] * len(counts)
    sequence: list[int] = []
    for _ in range(sum(counts)):
        best = -1
        for i, count in enumerate(counts):
            if given[i] < count and (
                best < 0 or count * (2 * given[best] + 1) > counts[best] * (2 * given[i] + 1)
            ):
                best = i
        given[best] += 1
        sequence.append(best)
    return sequence
