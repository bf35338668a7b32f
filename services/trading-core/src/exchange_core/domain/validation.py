"""Static checks of a PlaceOrder against its market: no state read, nothing changed.

Order of checks (the first failure wins; docs/INVARIANTS.md RISK-7 lists the full
pipeline): account, client id, side, type, time in force, STP, post-only, quantity,
price / bounds, notional.
"""

from typing import Final

from exchange_core.domain import codes
from exchange_core.domain.commands import PlaceOrder
from exchange_core.domain.market import PRICE_TICKS_MAX, MarketGrid

ACCOUNT_ID_MAX_LEN: Final = 64
CLIENT_ORDER_ID_MAX_LEN: Final = 64
OK_CHECK: Final = (codes.OK, "")


def normalized_tif(order_type: int, tif: int) -> int:
    if tif == codes.TIF_UNSPECIFIED:
        return codes.GTC if order_type == codes.LIMIT else codes.IOC
    return tif


def check_account(account_id: str) -> tuple[int, str]:
    if not account_id or len(account_id) > ACCOUNT_ID_MAX_LEN:
        return codes.INVALID_ACCOUNT, "account_id must be 1..64 characters"
    return OK_CHECK


def check_place(g: MarketGrid, cmd: PlaceOrder) -> tuple[int, str]:
    """(codes.OK, "") or the first static reject code with a reason."""
    if not cmd.account_id or len(cmd.account_id) > ACCOUNT_ID_MAX_LEN:
        return codes.INVALID_ACCOUNT, "account_id must be 1..64 characters"
    if len(cmd.client_order_id) > CLIENT_ORDER_ID_MAX_LEN:
        return codes.INVALID_CLIENT_ORDER_ID, "client_order_id longer than 64"
    if cmd.side not in (codes.BUY, codes.SELL):
        return codes.INVALID_SIDE, "side must be BUY or SELL"
    otype = cmd.order_type
    if otype not in (codes.LIMIT, codes.MARKET):
        return codes.INVALID_ORDER_TYPE, "order_type must be LIMIT or MARKET"
    tif = normalized_tif(otype, cmd.time_in_force)
    if otype == codes.LIMIT:
        if tif not in (codes.GTC, codes.IOC, codes.FOK):
            return codes.INVALID_TIME_IN_FORCE, "LIMIT takes GTC, IOC or FOK"
    elif tif != codes.IOC:
        return codes.INVALID_TIME_IN_FORCE, "MARKET orders are IOC"
    if not 0 <= cmd.stp <= codes.STP_CANCEL_BOTH:
        return codes.INVALID_ORDER_TYPE, "unknown self_trade_prevention"
    if cmd.post_only:
        if otype != codes.LIMIT:
            return codes.INVALID_ORDER_TYPE, "post_only needs a LIMIT order"
        if tif != codes.GTC:
            return codes.INVALID_TIME_IN_FORCE, "post_only needs GTC"
    qty = cmd.qty_lots
    if qty <= 0:
        return codes.INVALID_QUANTITY, "quantity must be > 0"
    if qty < g.min_lots:
        return codes.QUANTITY_BELOW_MIN, "quantity below the market minimum"
    if qty > g.max_lots:
        return codes.QUANTITY_ABOVE_MAX, "quantity above the market maximum"
    if otype == codes.LIMIT:
        return _check_limit_price(g, cmd)
    return _check_market_bounds(cmd)


def _check_limit_price(g: MarketGrid, cmd: PlaceOrder) -> tuple[int, str]:
    if not 0 < cmd.price_ticks <= PRICE_TICKS_MAX:
        return codes.INVALID_PRICE, "LIMIT price must be > 0"
    if cmd.quote_budget:
        return codes.INVALID_AMOUNT, "quote_budget is for MARKET buys only"
    if cmd.protection_ticks:
        return codes.INVALID_PRICE, "protection_price is for MARKET orders only"
    if cmd.price_ticks * cmd.qty_lots * g.quote_per_tick_lot < g.min_notional:
        return codes.NOTIONAL_BELOW_MIN, "price x quantity below the market minimum"
    return OK_CHECK


def _check_market_bounds(cmd: PlaceOrder) -> tuple[int, str]:
    if cmd.price_ticks:
        return codes.INVALID_PRICE, "MARKET orders carry no price"
    if not 0 <= cmd.protection_ticks <= PRICE_TICKS_MAX:
        return codes.INVALID_PRICE, "protection_price must be > 0"
    if cmd.quote_budget < 0:
        return codes.INVALID_AMOUNT, "quote_budget must be > 0"
    if cmd.side == codes.SELL:
        if cmd.quote_budget:
            return codes.INVALID_AMOUNT, "quote_budget is for MARKET buys only"
    elif not cmd.quote_budget and not cmd.protection_ticks:
        return codes.MARKET_BUY_NEEDS_BOUND, "MARKET buy needs quote_budget or protection_price"
    return OK_CHECK


def band_limits(reference_ticks: int, band_bps: int) -> tuple[int, int]:
    """(lowest, highest) price in ticks allowed by the band; (0, 0) when there is none."""
    if not reference_ticks or not band_bps:
        return 0, 0
    low = -((-reference_ticks * (10_000 - band_bps)) // 10_000)  # ceil
    high = reference_ticks * (10_000 + band_bps) // 10_000  # floor
    return low, high
