"""Per-symbol sequence tracking: gaps open above, close from below."""

from exchange_ledger.domain.sequence import MAX_GAPS_PER_SYMBOL, observe_seq


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
