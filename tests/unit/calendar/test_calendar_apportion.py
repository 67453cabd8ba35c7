"""The apportionment methods against their definitions: Hamilton (largest remainder) on the
textbook example and the quota rule; the Sainte-Laguë sequence: every prefix of k slots is the
Sainte-Laguë apportionment of k seats, computed here independently with its divisors 1, 3, 5."""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor

from hypothesis import given
from hypothesis import strategies as st

from services.calendar.planning.apportion import largest_remainder, sainte_lague_sequence


def test_hamilton_on_the_textbook_example() -> None:
    # Wikipedia, "Largest remainders method": 10 seats, Hare quota -> 5, 2, 1, 1, 1, 0
    votes = [47_000, 16_000, 15_800, 12_000, 6_100, 3_100]
    assert largest_remainder(10, [Fraction(v) for v in votes]) == [5, 2, 1, 1, 1, 0]


@given(
    st.integers(min_value=0, max_value=200),
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=8).filter(any),
)
def test_hamilton_meets_the_quota_rule(seats: int, weights: list[int]) -> None:
    counts = largest_remainder(seats, [Fraction(w) for w in weights])
    total = sum(weights)
    assert sum(counts) == seats
    for count, w in zip(counts, weights, strict=True):
        quota = Fraction(seats * w, total)
        assert floor(quota) <= count <= ceil(quota)


def test_equal_remainders_go_to_the_value_behind() -> None:
    weights = [Fraction(1)] * 3
    assert largest_remainder(1, weights) == [1, 0, 0]
    assert largest_remainder(1, weights, [Fraction(0), Fraction(1, 2), Fraction(0)]) == [0, 1, 0]


def _sainte_lague(seats: int, votes: list[int]) -> list[int]:
    """Sainte-Laguë by its definition: seat after seat to the highest votes / (2s + 1)."""
    given_ = [0] * len(votes)
    for _ in range(seats):
        best = max(range(len(votes)), key=lambda i: (Fraction(votes[i], 2 * given_[i] + 1), -i))
        given_[best] += 1
    return given_


@given(st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=6))
def test_every_prefix_of_the_sequence_is_a_sainte_lague_apportionment(counts: list[int]) -> None:
    sequence = sainte_lague_sequence(counts)
    assert sorted(sequence) == sorted(i for i, c in enumerate(counts) for _ in range(c))
    for k in range(len(sequence) + 1):
        prefix = [sequence[:k].count(i) for i in range(len(counts))]
        assert prefix == _sainte_lague(k, counts)


def test_the_sequence_interleaves() -> None:
    assert sainte_lague_sequence([2, 1, 1]) == [0, 1, 2, 0]
