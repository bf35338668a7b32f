"""What ``Engine.apply`` returns: the reply data and the events of one command."""

from typing import ClassVar, NamedTuple

from exchange_common.ids import AccountId, Symbol
from exchange_core.domain import codes
from exchange_core.domain.events import Event, Level, TradeExecuted
from exchange_core.domain.record import Record


class Batch(Record):
    """Events of one symbol under one sequence number (the envelope's symbol and seq).

    ``symbol`` is "" for account-level events (BalanceApplied); ``seq`` is then the
    engine's account-level sequence. (A Record, not a NamedTuple: the event encoder asks
    every command's result for its batches.)
    """

    _fields: ClassVar[tuple[str, ...]] = ("symbol", "seq", "events")
    __slots__ = _fields

    def __init__(self, symbol: Symbol, seq: int, events: list[Event]) -> None:
        self.symbol = symbol
        self.seq = seq
        self.events = events


class Result(Record):
    """The reply data and events of one command (a Record: created on every command)."""

    _fields: ClassVar[tuple[str, ...]] = (
        "code", "reason", "symbol", "seq", "events", "order_id", "client_order_id", "status",
        "filled_lots", "canceled_count", "mode", "more",
    )
    __slots__ = _fields

    def __init__(  # noqa: PLR0917
        self,
        code: int,  # codes.OK when accepted
        reason: str,  # "" when accepted
        symbol: Symbol,  # "" for BalanceAdjust and for CancelAll of every symbol
        seq: int,  # the symbol's seq given to this command; 0 = not sequenced
        events: list[Event],  # events of (symbol, seq), in order
        order_id: int = 0,  # PlaceOrder/CancelOrder: the order's number (0 = none)
        client_order_id: str = "",
        status: int = codes.STATUS_UNSPECIFIED,  # the order's status after the command
        filled_lots: int = 0,
        canceled_count: int = 0,  # CancelAll
        mode: int = 0,  # SetSymbolMode: the mode now in force
        more: tuple[Batch, ...] = (),  # CancelAll of every symbol: one batch per symbol
    ) -> None:
        self.code = code
        self.reason = reason
        self.symbol = symbol
        self.seq = seq
        self.events = events
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.status = status
        self.filled_lots = filled_lots
        self.canceled_count = canceled_count
        self.mode = mode
        self.more = more

    @property
    def accepted(self) -> bool:
        return self.code == codes.OK

    @property
    def trades(self) -> list[TradeExecuted]:
        return [e for e in self.events if type(e) is TradeExecuted]

    def batches(self) -> list[Batch]:
        """Every (symbol, seq, events) group of this command, in order."""
        more = self.more
        if not self.seq:
            return list(more)
        head = [Batch(self.symbol, self.seq, self.events)]
        if more:
            head.extend(more)
        return head


class OrderView(NamedTuple):
    """Read-only view of an order (open or recently finished)."""

    order_id: int
    symbol: Symbol
    account_id: AccountId
    client_order_id: str
    side: int
    order_type: int
    time_in_force: int
    price_ticks: int
    qty_lots: int
    filled_lots: int
    status: int
    post_only: bool
    created_seq: int
    updated_seq: int
    hold: int  # what the order still reserves (minor units of its reserved asset)


class BookDepth(NamedTuple):
    symbol: Symbol
    seq: int
    bids: tuple[Level, ...]  # best first
    asks: tuple[Level, ...]  # best first


class BalanceView(NamedTuple):
    available: int
    hold: int
