"""Domain events: cheap tuples with integer units, one class per event kind.

Units: ``*_ticks`` price ticks, ``*_lots`` quantity lots, every other amount is minor
units of the asset named beside it (``reserved_asset``...) or, on trades, of the
market's quote asset. Order and trade ids are the market's integer numbers: the public
strings are ``format_order_id(symbol, n)`` / ``format_trade_id(symbol, n)``.
The adapter maps each class 1:1 onto the message of the same name in events.proto.
"""

from typing import NamedTuple

from exchange_common.ids import AccountId, Asset

# One level of a BookDelta: (price_ticks, total qty_lots, order_count); qty 0 = removed.
Level = tuple[int, int, int]


class OrderAccepted(NamedTuple):
    order_id: int
    client_order_id: str
    account_id: AccountId
    side: int
    order_type: int
    time_in_force: int  # normalized: never 0
    price_ticks: int  # 0 for MARKET
    qty_lots: int
    quote_budget: int  # 0 = not used
    post_only: bool
    stp: int  # normalized: never 0
    reserved_asset: Asset  # available -> hold at acceptance
    reserved_amount: int
    protection_ticks: int  # 0 = not used


class OrderRejected(NamedTuple):
    client_order_id: str
    account_id: AccountId
    code: int
    reason: str
    order_id: int  # 0, or the existing order a cancel named


class OrderCanceled(NamedTuple):
    order_id: int
    client_order_id: str
    account_id: AccountId
    reason: int  # codes.CANCEL_*
    filled_lots: int
    canceled_lots: int
    released_asset: Asset  # hold -> available
    released_amount: int


class OrderFilled(NamedTuple):
    order_id: int
    client_order_id: str
    account_id: AccountId
    filled_lots: int
    released_asset: Asset
    released_amount: int


class TradeExecuted(NamedTuple):
    """Settlement per asset sums to zero (events.proto, TradeExecuted):

    buyer:  hold(quote) -= quote_amount + buyer_fee + buyer_refund;
            available(quote) += buyer_refund; available(base) += qty_lots * base_per_lot
    seller: hold(base) -= qty_lots * base_per_lot; available(quote) += quote_amount - seller_fee
    fee account: available(quote) += buyer_fee + seller_fee
    """

    trade_id: int
    price_ticks: int
    qty_lots: int
    quote_amount: int
    taker_side: int
    maker_order_id: int
    taker_order_id: int
    maker_account_id: AccountId
    taker_account_id: AccountId
    buyer_fee: int
    seller_fee: int
    buyer_refund: int
    maker_client_order_id: str
    taker_client_order_id: str


class BookDelta(NamedTuple):
    """Final state of every level the command touched; bids best-first, asks best-first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class BalanceApplied(NamedTuple):
    adjustment_id: str
    account_id: AccountId
    asset: Asset
    delta: int
    applied: bool
    code: int


class SymbolModeChanged(NamedTuple):
    """Domain-only (no proto message yet): the market's mode after SetSymbolMode."""

    mode: int
    previous_mode: int


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
