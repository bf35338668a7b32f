"""Ports: what the use cases need from storage. The PostgreSQL adapters implement them."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from exchange_ledger.domain.batch import BatchPlan
from exchange_ledger.domain.inbound import Inbound
from exchange_ledger.domain.rejection import Rejection

PartitionKey = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True)
class OffsetAdvance:
    """Move a stored offset from ``expected`` (what this consumer read) to ``next``."""

    topic: str
    partition: int
    expected: int
    next: int


@dataclass(frozen=True)
class RecordCursor:
    """Where each event of a batch came from, and the stored offsets the consumer read."""

    group: str
    expected: dict[PartitionKey, int]
    records: list[tuple[str, int, int]]  # (topic, partition, offset), parallel to the events

    def advances(self, consumed: int) -> list[OffsetAdvance]:
        """Offsets after the first ``consumed`` events (the committed prefix)."""
        last: dict[PartitionKey, int] = {}
        for topic, partition, offset in self.records[:consumed]:
            last[(topic, partition)] = offset + 1
        return [OffsetAdvance(t, p, self.expected[(t, p)], nxt)
                for (t, p), nxt in sorted(last.items())]


@dataclass
class SettleResult:
    plan: BatchPlan
    entry_ids: dict[str, int] = field(default_factory=dict)  # event id -> journal entry id


class StaleOffsetError(RuntimeError):
    """The stored offset moved under this consumer (a zombie after a rebalance): rolled back."""


class SettlementStore(Protocol):
    def settle(
        self, events: list[Inbound | Rejection], cursor: RecordCursor | None,
        meanwhile: Callable[[], object] | None = None,
    ) -> SettleResult:
        """Plan and write ``events`` and advance the cursor's offsets in one transaction;
        run ``meanwhile`` (other work of the caller) while the database inserts them."""
        ...
