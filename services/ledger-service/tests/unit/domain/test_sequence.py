"""Per-symbol sequence tracking: gaps open above, close from below."""

from hypothesis import given
from hypothesis import strategies as st

from exchange_ledger.domain.sequence import (
    MAX_GAPS_PER_SYMBOL,
    Gap,
    observe_seq,
    observe_seq_in_place,
)


def test_the_first_seq_seen_opens_no_gap() -> None:
    assert observe_seq(None, [], 42) == (42, [])


def test_a_jump_opens_a_gap_and_late_seqs_close_it_piece_by_piece() -> None:
    last, gaps = observe_seq(1, [], 5)
    assert (last, gaps) == (5, [(2, 4)])
    last, gaps = observe_seq(last, gaps, 3)
    assert (last, gaps) == (5, [(2, 2), (4, 4)])
    last, gaps = observe_seq(last, gaps, 2)
    last, gaps = observe_seq(last, gaps, 4)
    assert (last, gaps) == (5, [])


def test_repeats_of_the_same_seq_change_nothing() -> None:
    assert observe_seq(5, [(2, 3)], 5) == (5, [(2, 3)])


def test_the_gap_list_is_bounded() -> None:
    last, gaps = 0, list[tuple[int, int]]()
    for seq in range(2, 2 * (MAX_GAPS_PER_SYMBOL + 10), 2):
        last, gaps = observe_seq(last, gaps, seq)
    assert len(gaps) <= MAX_GAPS_PER_SYMBOL
    assert gaps[0][0] == 1  # coarsened, never dropped: the oldest missing seq is still there


def _missing(last: int, seen: set[int]) -> set[int]:
    return {s for s in range(1, last + 1) if s not in seen}


def _covered(gaps: list[Gap]) -> set[int]:
    return {s for low, high in gaps for s in range(low, high + 1)}


@given(st.lists(st.integers(min_value=1, max_value=60), max_size=80))
def test_gaps_are_exactly_the_seqs_not_seen_below_the_newest(seqs: list[int]) -> None:
    last: int | None = None
    gaps: list[Gap] = []
    for seq in seqs:
        before = list(gaps)
        last, changed = observe_seq_in_place(last, gaps, seq)
        assert changed == (gaps != before)
        assert gaps == sorted(gaps) and all(low <= high for low, high in gaps)
    if seqs:
        assert last == max(seqs)
        assert _covered(gaps) == _missing(max(seqs), set(seqs)) - _missing(seqs[0] - 1, set())


def test_observe_seq_leaves_its_input_list_alone() -> None:
    gaps = [(2, 4)]
    assert observe_seq(5, gaps, 3) == (5, [(2, 2), (4, 4)])
    assert gaps == [(2, 4)]
