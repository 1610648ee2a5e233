"""Values in trace lines: small sets and tuples by their contents, larger ones counted."""

from pcilock.engine.execution import _short


def test_small_sets_are_sorted_contents_whatever_the_insertion_order():
    assert _short(frozenset((7, 0))) == _short(frozenset((0, 7))) == "{0, 7}"
    assert _short({10, 9, 100}) == "{9, 10, 100}"  # numbers in numeric order
    assert _short(frozenset()) == "{}"
    assert _short(frozenset(("b", "a"))) == "{'a', 'b'}"


def test_small_tuples_keep_their_order():
    assert _short((3, 1)) == "(3, 1)"
    assert _short(("flr",)) == "('flr',)"


def test_large_values_stay_abbreviated():
    assert _short(frozenset(range(100))) == "{100 items}"
    assert _short(tuple(range(100))) == "[100 items]"
    assert _short(list(range(3))) == "[3 items]"
