"""Wire requests (contracts) -> domain commands, exactly; off-grid input is a reject code.

A request that fails here is rejected *before* sequencing: it gets no seq, is not in the
WAL and changes nothing. Replay maps the WAL's stored requests through the same
functions, so a request that mapped once maps again to the same command.
"""

from collections.abc import Callable
from typing import NamedTuple

from exchange.v1 import events_pb2, trading_core_pb2
from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.domain import (
    BalanceAdjust,
    CancelAll,
    CancelOrder,
    Command,
    Engine,
    Parsed,
    PlaceOrder,
    SetSymbolMode,
    codes,
    parse_asset_amount,
)

_PARSE_CACHE_MAX = 50_000
_price_cache: dict[tuple[str, str], Parsed] = {}
_quantity_cache: dict[tuple[str, str], Parsed] = {}


def _cached(cache: dict[tuple[str, str], Parsed], step: str, text: str,
            parse: Callable[[str], Parsed]) -> Parsed:
    """Decimal parsing memoized per (grid step, text): the same prices and sizes repeat.

    A price parse depends only on the tick size (a quantity's only on the lot size), so
    the step text is the whole key, whatever the market or engine; bounded.
    """
    key = (step, text)
    parsed = cache.get(key)
    if parsed is None:
        if len(cache) >= _PARSE_CACHE_MAX:
            cache.clear()
        parsed = cache[key] = parse(text)
    return parsed


class Unsequenced(NamedTuple):
    """A request refused before sequencing."""

    code: int
    reason: str


def place_order(
    engine: Engine, req: trading_core_pb2.PlaceOrderRequest, ts_ns: int = 0
) -> Command | Unsequenced:
    grid = engine.grid(Symbol(req.symbol))
    if grid is None:
        return Unsequenced(codes.UNKNOWN_SYMBOL, f"unknown symbol {req.symbol!r}")
    price_ticks = 0
    if req.price or req.order_type != codes.MARKET:
        price = _cached(_price_cache, grid.spec.tick_size, req.price, grid.parse_price)
        if not price.ok:
            return Unsequenced(price.code, price.reason)
        price_ticks = price.value
    qty = _cached(_quantity_cache, grid.spec.lot_size, req.quantity,
                  grid.parse_quantity)
    if not qty.ok:
        return Unsequenced(qty.code, qty.reason)
    budget = 0
    if req.quote_budget:
        parsed = grid.parse_amount(grid.quote, req.quote_budget)
        if not parsed.ok or parsed.value <= 0:
            reason = parsed.reason or "must be > 0"
            return Unsequenced(codes.INVALID_AMOUNT, f"quote_budget: {reason}")
        budget = parsed.value
    protection = 0
    if req.protection_price:
        parsed = grid.parse_price(req.protection_price)
        if not parsed.ok:
            return Unsequenced(parsed.code, f"protection_price: {parsed.reason}")
        protection = parsed.value
    return PlaceOrder(
        symbol=Symbol(req.symbol),
        account_id=AccountId(req.account_id),
        client_order_id=req.client_order_id,
        side=req.side,
        order_type=req.order_type,
        time_in_force=req.time_in_force,
        price_ticks=price_ticks,
        qty_lots=qty.value,
        quote_budget=budget,
        protection_ticks=protection,
        post_only=req.post_only,
        stp=req.self_trade_prevention,
        ts_ns=ts_ns,
        correlation_id=req.meta.correlation_id,
    )


def cancel_order(
    engine: Engine, req: trading_core_pb2.CancelOrderRequest, ts_ns: int = 0
) -> Command | Unsequenced:
    if engine.grid(Symbol(req.symbol)) is None:
        return Unsequenced(codes.UNKNOWN_SYMBOL, f"unknown symbol {req.symbol!r}")
    if not req.order_id and not req.client_order_id:
        return Unsequenced(codes.ORDER_NOT_FOUND, "one of order_id / client_order_id is required")
    return CancelOrder(
        symbol=Symbol(req.symbol),
        account_id=AccountId(req.account_id),
        order_id=req.order_id,
        client_order_id=req.client_order_id,
        ts_ns=ts_ns,
        correlation_id=req.meta.correlation_id,
    )


def cancel_all(
    engine: Engine, req: trading_core_pb2.CancelAllRequest, ts_ns: int = 0
) -> Command | Unsequenced:
    if req.symbol and engine.grid(Symbol(req.symbol)) is None:
        return Unsequenced(codes.UNKNOWN_SYMBOL, f"unknown symbol {req.symbol!r}")
    return CancelAll(
        symbol=Symbol(req.symbol),
        account_id=AccountId(req.account_id),
        ts_ns=ts_ns,
        correlation_id=req.meta.correlation_id,
    )


def set_symbol_mode(
    engine: Engine, req: trading_core_pb2.SetSymbolModeRequest, ts_ns: int = 0
) -> Command | Unsequenced:
    if engine.grid(Symbol(req.symbol)) is None:
        return Unsequenced(codes.UNKNOWN_SYMBOL, f"unknown symbol {req.symbol!r}")
    if req.mode not in (codes.MODE_NORMAL, codes.MODE_POST_ONLY, codes.MODE_CANCEL_ONLY,
                        codes.MODE_HALTED):
        return Unsequenced(codes.INVALID_MODE, f"invalid mode {req.mode}")
    return SetSymbolMode(
        symbol=Symbol(req.symbol), mode=req.mode, ts_ns=ts_ns,
        correlation_id=req.meta.correlation_id,
    )


def balance_adjust(
    engine: Engine, adjusted: events_pb2.BalanceAdjusted, correlation_id: str = "",
    ts_ns: int = 0,
) -> Command | Unsequenced:
    scale = engine.asset_scale(Asset(adjusted.asset))
    if scale is None:
        return Unsequenced(codes.INVALID_AMOUNT, f"unknown asset {adjusted.asset!r}")
    if not adjusted.adjustment_id:
        return Unsequenced(codes.INVALID_AMOUNT, "adjustment_id is required")
    delta = parse_asset_amount(scale, adjusted.delta, signed=True)
    if not delta.ok:
        return Unsequenced(delta.code, delta.reason)
    return BalanceAdjust(
        adjustment_id=adjusted.adjustment_id,
        account_id=AccountId(adjusted.account_id),
        asset=Asset(adjusted.asset),
        delta=delta.value,
        ts_ns=ts_ns,
        correlation_id=correlation_id,
    )
