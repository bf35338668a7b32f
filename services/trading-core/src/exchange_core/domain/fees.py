"""Fee and reserve arithmetic (exact integers, rounding always up to the quote unit)."""

from exchange_core.domain.market import PPM, PPM_CEIL


def fee(quote_amount: int, rate_ppm: int) -> int:
    """ceil(quote_amount * rate_ppm / 1e6), for quote_amount >= 0.

    Written with non-negative operands: the mypyc build multiplies small non-negative
    ints inline and sends a negative operand to the slow (bignum) path.
    """
    return (quote_amount * rate_ppm + PPM_CEIL) // PPM


def buy_unit(price_ticks: int, quote_per_tick_lot: int, max_fee_ppm: int) -> int:
    """Quote reserved per lot of a buy at ``price_ticks``: notional + worst-case fee.

    Linear per lot (RISK-2): since ceil(q * x) <= q * ceil(x), the reserve of any fill
    of q lots at a price <= the limit, fee included, is at most ``q * unit``, so each
    fill releases exactly ``q * unit`` and the refund is never negative.
    """
    notional = price_ticks * quote_per_tick_lot
    return notional + fee(notional, max_fee_ppm)


def affordable_lots(budget: int, price_ticks: int, quote_per_tick_lot: int,
                    rate_ppm: int) -> int:
    """Largest q with price*q*k + fee(price*q*k) <= budget (quote-budget MARKET buys)."""
    per_lot = price_ticks * quote_per_tick_lot
    q = budget * PPM // (per_lot * (PPM + rate_ppm))
    # Rounding the fee up costs less than one unit, so at most one step back is needed.
    if q and q * per_lot + fee(q * per_lot, rate_ppm) > budget:
        q -= 1
    return q
