"""Wire requests (contracts) -> domain commands, exactly; off-grid input is a reject code.

A request that fails here is rejected *before* sequencing: it gets no seq, is not in the
WAL and changes nothing. Replay maps the WAL's stored requests through the same
functions, so a request that mapped once maps again to the same command.
"""

from typing import Final, NamedTuple

from exchange.v1 import events_pb2, trading_core_pb2
from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.adapters.request_wire import CancelRequest, PlaceRequest
from exchange_core.domain import (
    BalanceAdjust,
    CancelAll,
    CancelOrder,
    Command,
    Engine,
    MarketGrid,
    Parsed,
    PlaceOrder,
    SetSymbolMode,
    codes,
    parse_asset_amount,
)

_PARSE_CACHE_MAX: Final = 50_000
_GRIDS_MAX: Final = 256
# grid -> decimal text -> parsed (prices; quantities): the same prices and sizes repeat,
# and a grid (immutable) always parses a text the same way. Bounded: a full map is emptied.
_price_cache: Final[dict[MarketGrid, dict[str, Parsed]]] = {}  # Final: a C static, compiled
_quantity_cache: Final[dict[MarketGrid, dict[str, Parsed]]] = {}
# A NamedTuple's own __new__ is interpreted Python (a frame per command, compiled or not);
# tuple.__new__ makes the same object from all its fields in order (tests compare both).
_new: Final = tuple.__new__


def _parsed(grid: MarketGrid, text: str, *, quantity: bool) -> Parsed:
    """``grid.parse_quantity`` (``quantity``) or ``grid.parse_price`` of ``text``,
    memoized."""
    cache = _quantity_cache if quantity else _price_cache
    by_text = cache.get(grid)
    if by_text is None:
        if len(cache) >= _GRIDS_MAX:
            cache.clear()
        by_text = cache[grid] = {}
    parsed = by_text.get(text)
    if parsed is None:
        if len(by_text) >= _PARSE_CACHE_MAX:
            by_text.clear()
        parsed = by_text[text] = (grid.parse_quantity(text) if quantity else
                                  grid.parse_price(text))
    return parsed


class Unsequenced(NamedTuple):
    """A request refused before sequencing."""

    code: int
    reason: str


def place_order(
    engine: Engine, req: trading_core_pb2.PlaceOrderRequest | PlaceRequest, ts_ns: int = 0
) -> Command | Unsequenced:
    return place_fields(
        engine, symbol=req.symbol, account_id=req.account_id,
        client_order_id=req.client_order_id, side=req.side, order_type=req.order_type,
        time_in_force=req.time_in_force, price_text=req.price, quantity_text=req.quantity,
        quote_budget=req.quote_budget, protection_price=req.protection_price,
        post_only=req.post_only, stp=req.self_trade_prevention, ts_ns=ts_ns,
        correlation_id=req.meta.correlation_id)


def place_fields(
    engine: Engine, *, symbol: str, account_id: str, client_order_id: str, side: int,
    order_type: int, time_in_force: int, price_text: str, quantity_text: str, quote_budget: str,
    protection_price: str, post_only: bool, stp: int, ts_ns: int, correlation_id: str,
) -> Command | Unsequenced:
    """The PlaceOrder of a request's fields (the one mapping of every place path)."""
    grid = engine.grid(Symbol(symbol))
    if grid is None:
        return Unsequenced(codes.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
    price_ticks = 0
    if price_text or order_type != codes.MARKET:
        # Unpacked: a Parsed is a tuple, its ``ok`` property and fields are lookups.
        price_ticks, code, reason = _parsed(grid, price_text, quantity=False)
        if code != codes.OK:
            return Unsequenced(code, reason)
    lots, code, reason = _parsed(grid, quantity_text, quantity=True)
    if code != codes.OK:
        return Unsequenced(code, reason)
    budget = 0
    if quote_budget:
        parsed = grid.parse_amount(grid.quote, quote_budget)
        if not parsed.ok or parsed.value <= 0:
            reason = parsed.reason or "must be > 0"
            return Unsequenced(codes.INVALID_AMOUNT, f"quote_budget: {reason}")
        budget = parsed.value
    protection = 0
    if protection_price:
        parsed = grid.parse_price(protection_price)
        if not parsed.ok:
            return Unsequenced(parsed.code, f"protection_price: {parsed.reason}")
        protection = parsed.value
    return _new(PlaceOrder, (Symbol(symbol), AccountId(account_id), client_order_id, side,
                             order_type, time_in_force, price_ticks, lots, budget,
                             protection, post_only, stp, ts_ns, correlation_id))


def cancel_order(
    engine: Engine, req: trading_core_pb2.CancelOrderRequest | CancelRequest, ts_ns: int = 0
) -> Command | Unsequenced:
    return cancel_fields(engine, req.symbol, req.account_id, order_id=req.order_id,
                         client_order_id=req.client_order_id, ts_ns=ts_ns,
                         correlation_id=req.meta.correlation_id)


def cancel_all(
    engine: Engine, req: trading_core_pb2.CancelAllRequest | CancelRequest, ts_ns: int = 0
) -> Command | Unsequenced:
    return cancel_all_fields(engine, req.symbol, req.account_id, ts_ns,
                             req.meta.correlation_id)


def cancel_fields(
    engine: Engine, symbol: str, account_id: str, *, order_id: str, client_order_id: str,
    ts_ns: int, correlation_id: str,
) -> Command | Unsequenced:
    if engine.grid(Symbol(symbol)) is None:
        return Unsequenced(codes.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
    if not order_id and not client_order_id:
        return Unsequenced(codes.ORDER_NOT_FOUND, "one of order_id / client_order_id is required")
    return _new(CancelOrder, (Symbol(symbol), AccountId(account_id), order_id,
                              client_order_id, ts_ns, correlation_id))


def cancel_all_fields(
    engine: Engine, symbol: str, account_id: str, ts_ns: int, correlation_id: str
) -> Command | Unsequenced:
    if symbol and engine.grid(Symbol(symbol)) is None:
        return Unsequenced(codes.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
    return CancelAll(Symbol(symbol), AccountId(account_id), ts_ns, correlation_id)


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
