"""An event as the ledger sees it: identity, ordering, what it depends on, what it posts."""

from enum import StrEnum
from typing import NamedTuple

from exchange_ledger.domain.entries import EntryDraft


class EventKind(StrEnum):
    ACCEPT = "accept"      # OrderAccepted: available -> hold
    RELEASE = "release"    # OrderCanceled / OrderExpired / OrderFilled: hold -> available
    TRADE = "trade"        # TradeExecuted: settle between the two holds
    NOOP = "noop"          # OrderRejected, BalanceApplied: recorded, nothing moves


# NamedTuples, not frozen dataclasses: one of each is built per Kafka record, and a frozen
# dataclass's __init__ (object.__setattr__ per field) cost several µs each on that path.
class Source(NamedTuple):
    """Where an event came from: a Kafka record, or ``http`` (partition/offset None)."""

    name: str
    partition: int | None = None
    offset: int | None = None


class OrderFacts(NamedTuple):
    """For ACCEPT: the reserve; for RELEASE: the closure (``closure`` names its kind)."""

    owner: str
    asset: str
    units: int
    closure: str | None = None


class Inbound(NamedTuple):
    source: Source
    event_id: str
    symbol: str
    seq: int
    epoch: int
    kind: EventKind
    ref: str                      # trade id for TRADE, order id for ACCEPT/RELEASE
    content_hash: bytes           # hash of the body: same id + other hash = refused
    requires: tuple[str, ...]     # order ids that must be accepted before this applies
    entry: EntryDraft | None
    order: OrderFacts | None
    payload: bytes                # the serialized event, kept if it must be parked
