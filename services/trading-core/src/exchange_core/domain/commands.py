"""Sequenced commands: what the engine applies, in order, one at a time.

Every command carries ``ts_ns`` (the sequencer's time; the domain never reads a clock)
and ``correlation_id`` (propagated to the events' envelope). Amounts are integers
already converted by the adapter with ``MarketGrid`` (ticks, lots, minor units).
"""

from typing import NamedTuple

from exchange_common.ids import AccountId, Asset, Symbol


class PlaceOrder(NamedTuple):
    symbol: Symbol
    account_id: AccountId
    client_order_id: str  # "" = none; else unique per account among its open orders
    side: int  # codes.BUY / codes.SELL
    order_type: int  # codes.LIMIT / codes.MARKET
    time_in_force: int  # codes.GTC / IOC / FOK (0 = GTC for LIMIT, IOC for MARKET)
    price_ticks: int  # LIMIT price; 0 for MARKET
    qty_lots: int
    quote_budget: int = 0  # MARKET buy: spend at most this (quote minor units); 0 = none
    protection_ticks: int = 0  # MARKET: worst price to trade at; 0 = none
    post_only: bool = False
    stp: int = 0  # codes.STP_*; 0 = NONE
    ts_ns: int = 0
    correlation_id: str = ""


class CancelOrder(NamedTuple):
    symbol: Symbol
    account_id: AccountId
    order_id: str  # public id ("BTC-USDT:42"); "" = use client_order_id
    client_order_id: str = ""
    ts_ns: int = 0
    correlation_id: str = ""


class CancelAll(NamedTuple):
    symbol: Symbol  # "" = every symbol
    account_id: AccountId  # "" = every account (admin)
    ts_ns: int = 0
    correlation_id: str = ""


class SetSymbolMode(NamedTuple):
    symbol: Symbol
    mode: int  # codes.MODE_*
    ts_ns: int = 0
    correlation_id: str = ""


class BalanceAdjust(NamedTuple):
    """A ledger credit (delta > 0) or debit (delta < 0) of ``available``, at most once."""

    adjustment_id: str
    account_id: AccountId
    asset: Asset
    delta: int  # signed minor units of ``asset``
    ts_ns: int = 0
    correlation_id: str = ""


Command = PlaceOrder | CancelOrder | CancelAll | SetSymbolMode | BalanceAdjust
