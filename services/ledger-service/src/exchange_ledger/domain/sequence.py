"""Per-symbol engine sequence tracking: the newest seq applied, and the gaps below it.

Events of one command share its seq; order and trade events travel on two topics, so a
seq may arrive after a newer one. A seq above ``last + 1`` opens a gap; a late seq inside
a gap closes that part of it. Gaps are what reconciliation reports."""

from dataclasses import dataclass

MAX_GAPS_PER_SYMBOL = 1_000

Gap = tuple[int, int]  # inclusive range of missing seqs


@dataclass(frozen=True, slots=True)
class SymbolState:
    epoch: int
    last_seq: int


def observe_seq(last_seq: int | None, gaps: list[Gap], seq: int) -> tuple[int, list[Gap]]:
    """Return the new (last_seq, gaps) after seeing ``seq``. ``last_seq`` None: first seen."""
    if last_seq is None:
        return seq, gaps
    if seq > last_seq:
        if seq > last_seq + 1:
            gaps = [*gaps, (last_seq + 1, seq - 1)]
            if len(gaps) > MAX_GAPS_PER_SYMBOL:  # bounded: coarsen the oldest two ranges
                gaps = [(gaps[0][0], gaps[1][1]), *gaps[2:]]
        return seq, gaps
    for index, (low, high) in enumerate(gaps):
        if low <= seq <= high:
            pieces = [g for g in ((low, seq - 1), (seq + 1, high)) if g[0] <= g[1]]
            return last_seq, [*gaps[:index], *pieces, *gaps[index + 1:]]
    return last_seq, gaps
