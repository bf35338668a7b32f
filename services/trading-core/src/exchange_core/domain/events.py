"""Domain events: small records with integer units, one class per event kind.

Units: ``*_ticks`` price ticks, ``*_lots`` quantity lots, every other amount is minor
units of the asset named beside it (``reserved_asset``...) or, on trades, of the
market's quote asset. Order and trade ids are the market's integer numbers: the public
strings are ``format_order_id(symbol, n)`` / ``format_trade_id(symbol, n)``.
The adapter maps each class 1:1 onto the message of the same name in events.proto.
"""

from typing import ClassVar, Final

from exchange_common.ids import AccountId, Asset
from exchange_core.domain import codes
from exchange_core.domain.record import Record

_BUY: Final = codes.BUY
_SELL: Final = codes.SELL

# One level of a BookDelta: (price_ticks, total qty_lots, order_count); qty 0 = removed.
Level = tuple[int, int, int]


class OrderAccepted(Record):
    _fields: ClassVar[tuple[str, ...]] = (
        "order_id", "client_order_id", "account_id", "side", "order_type", "time_in_force",
        "price_ticks", "qty_lots", "quote_budget", "post_only", "stp", "reserved_asset",
        "reserved_amount", "protection_ticks",
    )
    __slots__ = _fields

    def __init__(  # noqa: PLR0917
        self,
        order_id: int,
        client_order_id: str,
        account_id: AccountId,
        side: int,
        order_type: int,
        time_in_force: int,
        price_ticks: int,
        qty_lots: int,
        quote_budget: int,
        post_only: bool,
        stp: int,
        reserved_asset: Asset,
        reserved_amount: int,
        protection_ticks: int,
    ) -> None:
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.account_id = account_id
        self.side = side
        self.order_type = order_type
        self.time_in_force = time_in_force  # normalized: never 0
        self.price_ticks = price_ticks  # 0 for MARKET
        self.qty_lots = qty_lots
        self.quote_budget = quote_budget  # 0 = not used
        self.post_only = post_only
        self.stp = stp  # normalized: never 0
        self.reserved_asset = reserved_asset  # available -> hold at acceptance
        self.reserved_amount = reserved_amount
        self.protection_ticks = protection_ticks  # 0 = not used


class OrderRejected(Record):
    _fields: ClassVar[tuple[str, ...]] = (
        "client_order_id", "account_id", "code", "reason", "order_id",
    )
    __slots__ = _fields

    def __init__(
        self,
        client_order_id: str,
        account_id: AccountId,
        code: int,
        reason: str,
        order_id: int,
    ) -> None:
        self.client_order_id = client_order_id
        self.account_id = account_id
        self.code = code
        self.reason = reason
        self.order_id = order_id  # 0, or the existing order a cancel named


class OrderCanceled(Record):
    _fields: ClassVar[tuple[str, ...]] = (
        "order_id", "client_order_id", "account_id", "reason", "filled_lots", "canceled_lots",
        "released_asset", "released_amount",
    )
    __slots__ = _fields

    def __init__(  # noqa: PLR0917
        self,
        order_id: int,
        client_order_id: str,
        account_id: AccountId,
        reason: int,
        filled_lots: int,
        canceled_lots: int,
        released_asset: Asset,
        released_amount: int,
    ) -> None:
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.account_id = account_id
        self.reason = reason  # codes.CANCEL_*
        self.filled_lots = filled_lots
        self.canceled_lots = canceled_lots
        self.released_asset = released_asset  # hold -> available
        self.released_amount = released_amount


class OrderFilled(Record):
    _fields: ClassVar[tuple[str, ...]] = (
        "order_id", "client_order_id", "account_id", "filled_lots", "released_asset",
        "released_amount",
    )
    __slots__ = _fields

    def __init__(  # noqa: PLR0917
        self,
        order_id: int,
        client_order_id: str,
        account_id: AccountId,
        filled_lots: int,
        released_asset: Asset,
        released_amount: int,
    ) -> None:
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.account_id = account_id
        self.filled_lots = filled_lots
        self.released_asset = released_asset
        self.released_amount = released_amount


class TradeExecuted(Record):
    """Settlement per asset sums to zero (events.proto, TradeExecuted):

    buyer:  hold(quote) -= quote_amount + buyer_fee + buyer_refund;
            available(quote) += buyer_refund; available(base) += qty_lots * base_per_lot
    seller: hold(base) -= qty_lots * base_per_lot; available(quote) += quote_amount - seller_fee
    fee account: available(quote) += buyer_fee + seller_fee
    """

    _fields: ClassVar[tuple[str, ...]] = (
        "trade_id", "price_ticks", "qty_lots", "quote_amount", "taker_side", "maker_order_id",
        "taker_order_id", "maker_account_id", "taker_account_id", "buyer_fee", "seller_fee",
        "buyer_refund", "maker_client_order_id", "taker_client_order_id",
    )
    __slots__ = _fields

    def __init__(  # noqa: PLR0917
        self,
        trade_id: int,
        price_ticks: int,
        qty_lots: int,
        quote_amount: int,
        taker_side: int,
        maker_order_id: int,
        taker_order_id: int,
        maker_account_id: AccountId,
        taker_account_id: AccountId,
        buyer_fee: int,
        seller_fee: int,
        buyer_refund: int,
        maker_client_order_id: str,
        taker_client_order_id: str,
    ) -> None:
        self.trade_id = trade_id
        self.price_ticks = price_ticks
        self.qty_lots = qty_lots
        self.quote_amount = quote_amount
        self.taker_side = taker_side
        self.maker_order_id = maker_order_id
        self.taker_order_id = taker_order_id
        self.maker_account_id = maker_account_id
        self.taker_account_id = taker_account_id
        self.buyer_fee = buyer_fee
        self.seller_fee = seller_fee
        self.buyer_refund = buyer_refund
        self.maker_client_order_id = maker_client_order_id
        self.taker_client_order_id = taker_client_order_id


class BookDelta(Record):
    """Final state of every level the command touched; bids best-first, asks best-first.

    Most commands touch one level (an order rests, or is canceled, or takes one level):
    that delta is kept as four ints (``level_side`` BUY or SELL, ``price``, ``qty``,
    ``count``) and ``bids``/``asks`` build the tuples when read, so the hot path
    allocates one object instead of five (the delta, two tuples, two boxed ints). Any
    other delta keeps its tuples (``level_side`` 0). Both forms compare equal when their
    ``bids`` and ``asks`` do.
    """

    _fields: ClassVar[tuple[str, ...]] = ("bids", "asks")
    __slots__ = ("count", "level_side", "many_asks", "many_bids", "price", "qty")

    def __init__(self, bids: tuple[Level, ...] = (), asks: tuple[Level, ...] = (),  # noqa: PLR0917
                 level_side: int = 0, price: int = 0, qty: int = 0, count: int = 0) -> None:
        self.many_bids = bids
        self.many_asks = asks
        self.level_side = level_side  # 0: the tuples hold the delta
        self.price = price
        self.qty = qty
        self.count = count

    @property
    def bids(self) -> tuple[Level, ...]:
        if not self.level_side:
            return self.many_bids
        return ((self.price, self.qty, self.count),) if self.level_side == _BUY else ()

    @property
    def asks(self) -> tuple[Level, ...]:
        if not self.level_side:
            return self.many_asks
        return ((self.price, self.qty, self.count),) if self.level_side == _SELL else ()


def one_level(side: int, price: int, qty: int, count: int) -> BookDelta:
    """The BookDelta of one level of ``side`` (codes.BUY or codes.SELL)."""
    return BookDelta((), (), side, price, qty, count)


class BalanceApplied(Record):
    _fields: ClassVar[tuple[str, ...]] = (
        "adjustment_id", "account_id", "asset", "delta", "applied", "code",
    )
    __slots__ = _fields

    def __init__(  # noqa: PLR0917
        self,
        adjustment_id: str,
        account_id: AccountId,
        asset: Asset,
        delta: int,
        applied: bool,
        code: int,
    ) -> None:
        self.adjustment_id = adjustment_id
        self.account_id = account_id
        self.asset = asset
        self.delta = delta
        self.applied = applied
        self.code = code


class SymbolModeChanged(Record):
    """The market's mode after SetSymbolMode (BookEvent.mode_changed on the wire)."""

    _fields: ClassVar[tuple[str, ...]] = ("mode", "previous_mode")
    __slots__ = _fields

    def __init__(self, mode: int, previous_mode: int) -> None:
        self.mode = mode
        self.previous_mode = previous_mode


Event = (
    OrderAccepted
    | OrderRejected
    | OrderCanceled
    | OrderFilled
    | TradeExecuted
    | BookDelta
    | BalanceApplied
    | SymbolModeChanged
)
