"""Per-symbol engine sequence tracking: the newest seq applied, and the gaps below it.

Events of one command share its seq; order and trade events travel on two topics, so a
seq may arrive after a newer one. A seq above ``last + 1`` opens a gap; a late seq inside
a gap closes that part of it. Gaps are what reconciliation reports."""

from bisect import bisect_right
from dataclasses import dataclass
from operator import itemgetter

MAX_GAPS_PER_SYMBOL = 1_000

Gap = tuple[int, int]  # inclusive range of missing seqs


@dataclass(frozen=True, slots=True)
class SymbolState:
    epoch: int
    last_seq: int


def observe_seq(last_seq: int | None, gaps: list[Gap], seq: int) -> tuple[int, list[Gap]]:
    """Return the new (last_seq, gaps) after seeing ``seq``. ``last_seq`` None: first seen."""
    copy = list(gaps)
    last, _ = observe_seq_in_place(last_seq, copy, seq)
    return last, copy


_low = itemgetter(0)


def observe_seq_in_place(last_seq: int | None, gaps: list[Gap], seq: int) -> tuple[int, bool]:
    """``observe_seq`` editing ``gaps`` (sorted, disjoint) in place: the new last seq, and
    whether ``gaps`` changed. A binary search and one slice edit instead of a scan and a
    copy of the list per event (a catching-up consumer can have hundreds of gaps)."""
    if last_seq is None:
        return seq, False
    if seq > last_seq:
        if seq == last_seq + 1:
            return seq, False
        gaps.append((last_seq + 1, seq - 1))
        if len(gaps) > MAX_GAPS_PER_SYMBOL:  # bounded: coarsen the oldest two ranges
            gaps[0:2] = [(gaps[0][0], gaps[1][1])]
        return seq, True
    index = bisect_right(gaps, seq, key=_low) - 1  # the last gap starting at or below seq
    if index >= 0:
        low, high = gaps[index]
        if seq <= high:
            gaps[index:index + 1] = [g for g in ((low, seq - 1), (seq + 1, high)) if g[0] <= g[1]]
            return last_seq, True
    return last_seq, False
