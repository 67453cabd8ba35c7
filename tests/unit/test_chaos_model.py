"""`make chaos`'s accounting (bench/chaos_model.py), worked by hand: what counts as lost,
doubled and unexpected."""

from __future__ import annotations

from bench.chaos_model import Tally, tally, total


def test_every_key_once_is_exact() -> None:
    t = tally(["a", "b", "c"], {"a": 1, "b": 1, "c": 1})
    assert t == Tally(expected=3, stored=3, duplicates=0, lost=0, unexpected=0)
    assert t.exact


def test_a_missing_key_is_lost_and_a_zero_count_is_missing() -> None:
    t = tally(["a", "b", "c"], {"a": 1, "c": 0})
    assert (t.stored, t.lost, t.duplicates) == (1, 2, 0)
    assert not t.exact


def test_copies_beyond_the_first_are_duplicates() -> None:
    # a stored twice and c three times: 1 + 2 extra copies, nothing lost
    t = tally(["a", "b", "c"], {"a": 2, "b": 1, "c": 3})
    assert (t.stored, t.duplicates, t.lost) == (3, 3, 0)
    assert not t.exact


def test_keys_never_sent_are_unexpected_not_stored() -> None:
    t = tally(["a"], {"a": 1, "poison": 1})
    assert (t.expected, t.stored, t.unexpected) == (1, 1, 1)
    assert not t.exact


def test_repeated_expected_keys_count_once() -> None:
    # the model lists a key twice (a message sent twice is one effect)
    assert tally(["a", "a"], {"a": 1}).expected == 1


def test_the_scenario_row_sums_each_column() -> None:
    row = total({"x": tally(["a", "b"], {"a": 2}), "y": tally(["c"], {"c": 1, "d": 1})})
    assert row == Tally(expected=3, stored=2, duplicates=1, lost=1, unexpected=1)
