"""The matching loop: an incoming order against the opposite side, price-time priority.

One function on the hot path, written flat on purpose (attribute and global lookups
hoisted into locals): it walks levels best-first and each level FIFO, applies
self-trade prevention, settles every fill against the risk balances (the settlement
identity of events.proto TradeExecuted, RISK-5) and appends the events.
"""

from exchange_core.domain import codes
from exchange_core.domain.account import Balance
from exchange_core.domain.book import BookSide, Level
from exchange_core.domain.events import Event, OrderCanceled, OrderFilled, TradeExecuted
from exchange_core.domain.fees import affordable_lots
from exchange_core.domain.invariants import violated
from exchange_core.domain.lifecycle import CANCEL, FULL_FILL, PARTIAL_FILL, transition
from exchange_core.domain.market import PPM
from exchange_core.domain.market_state import MarketState
from exchange_core.domain.order import Order

_BUY = codes.BUY
_new = tuple.__new__  # NamedTuple without its Python-level __new__ (see engine.py)
_OPEN_MAX = codes.STATUS_PARTIALLY_FILLED
_STP_NONE = codes.STP_NONE
_NEWEST = codes.STP_CANCEL_NEWEST
_BOTH = codes.STP_CANCEL_BOTH


def match(m: MarketState, taker: Order, cap: int, stp: int, fees: Balance,  # noqa: PLR0917
          events: list[Event], touched: list[Level]) -> bool:
    """Fill ``taker`` up to ``cap`` (buy: highest, sell: lowest price; sell 0 = none).

    Returns True when self-trade prevention stopped the taker (its remainder must be
    canceled with reason SELF_TRADE_PREVENTION).
    """
    g = m.grid
    buy = taker.side == _BUY
    opp = m.asks if buy else m.bids
    keys = opp.keys
    levels = opp.levels
    sign = opp.sign
    acct = taker.acct
    stp_on = stp != _STP_NONE
    seq = m.seq
    b_ppm = g.taker_fee_ppm if buy else g.maker_fee_ppm
    budget_buy = buy and not taker.unit
    while keys:
        price = keys[-1] * sign
        if (price > cap) if buy else (price < cap):
            return False
        lvl = levels[price]
        dq = lvl.orders
        while True:
            mk = dq[0]
            if mk.status > _OPEN_MAX:
                dq.popleft()
                lvl.dead -= 1
                continue
            if stp_on and mk.acct is acct:
                outcome = _prevent_self_trade(m, lvl, mk, stp, events, touched)
                if outcome == _STOP:
                    return True
                if outcome == _LEVEL_DONE:
                    break
                continue
            q = mk.remaining if mk.remaining < taker.remaining else taker.remaining
            if budget_buy:
                q = min(q, affordable_lots(taker.hold, price, g.quote_per_tick_lot, b_ppm))
                if q == 0:
                    return False
            _settle(m, taker, mk, price, q, fees, events)
            if not touched or touched[-1] is not lvl:
                touched.append(lvl)
            lvl.qty -= q
            mk.updated_seq = seq
            if mk.remaining == 0:
                dq.popleft()
                lvl.count -= 1
                mk.status = transition(mk.status, FULL_FILL)
                _finish_maker(m, mk, g.quote if mk.side == _BUY else g.base, events)
            else:
                mk.status = transition(mk.status, PARTIAL_FILL)
            if lvl.count == 0:
                opp.drop_level(lvl)
                if taker.remaining == 0:
                    return False
                break
            if taker.remaining == 0:
                return False
    return False


# Outcomes of meeting one's own resting order under an active STP mode.
_STOP = 0  # the taker stops here (its remainder is canceled)
_LEVEL_DONE = 1  # the resting order was canceled and its level emptied: next level
_SAME_LEVEL = 2  # the resting order was canceled: keep matching in this level


def _prevent_self_trade(m: MarketState, lvl: Level, mk: Order, stp: int,  # noqa: PLR0917
                        events: list[Event], touched: list[Level]) -> int:
    if stp == _NEWEST:
        return _STOP
    if not touched or touched[-1] is not lvl:
        touched.append(lvl)
    lvl.orders.popleft()
    lvl.count -= 1
    lvl.qty -= mk.remaining
    _close_maker(m, mk, codes.CANCEL_SELF_TRADE_PREVENTION, m.seq, events)
    if lvl.count == 0:
        (m.bids if mk.side == _BUY else m.asks).drop_level(lvl)
    if stp == _BOTH:
        return _STOP
    return _LEVEL_DONE if lvl.count == 0 else _SAME_LEVEL


def _settle(m: MarketState, taker: Order, mk: Order, price: int, q: int,  # noqa: PLR0917
            fees: Balance, events: list[Event]) -> None:
    """One fill of ``q`` lots at the maker's ``price``: move the funds (RISK-5), emit it."""
    g = m.grid
    cost = price * q * g.quote_per_tick_lot
    base_amount = q * g.base_per_lot
    if taker.side == _BUY:
        buyer, seller = taker, mk
        fee_b = -((-cost * g.taker_fee_ppm) // PPM)
        fee_s = -((-cost * g.maker_fee_ppm) // PPM)
    else:
        buyer, seller = mk, taker
        fee_b = -((-cost * g.maker_fee_ppm) // PPM)
        fee_s = -((-cost * g.taker_fee_ppm) // PPM)
    unit = buyer.unit
    if unit:
        release = q * unit
        refund = release - cost - fee_b
        if refund < 0:
            violated("RISK-2", f"negative buyer refund on order {buyer.no}")
    else:
        release = cost + fee_b
        refund = 0
    buyer.hold -= release
    b_acct = buyer.acct
    bq = b_acct.balances[g.quote]
    bq.hold -= release
    bq.available += refund
    b_acct.balance(g.base).available += base_amount
    seller.hold -= base_amount
    s_acct = seller.acct
    s_acct.balances[g.base].hold -= base_amount
    s_acct.balance(g.quote).available += cost - fee_s
    fees.available += fee_b + fee_s
    mk.remaining -= q
    taker.remaining -= q
    m.trade_no += 1
    m.last_ticks = price
    events.append(_new(TradeExecuted, (
        m.trade_no, price, q, cost, taker.side, mk.no, taker.no, mk.acct.id, taker.acct.id,
        fee_b, fee_s, refund, mk.cid, taker.cid)))


def _unindex(m: MarketState, order: Order) -> None:
    del m.orders[order.no]
    acct = order.acct
    del acct.open[order]
    cid = order.cid
    if cid and acct.cids.get(cid) is order:
        del acct.cids[cid]
    m.remember(order)


def _finish_maker(m: MarketState, mk: Order, asset: str, events: list[Event]) -> None:
    """A resting order just filled completely: release what it still holds."""
    _unindex(m, mk)
    release = mk.hold
    if release:
        bal = mk.acct.balances[asset]  # type: ignore[index]
        bal.hold -= release
        bal.available += release
        mk.hold = 0
    events.append(_new(OrderFilled, (mk.no, mk.cid, mk.acct.id, mk.qty, asset, release)))


def _close_maker(m: MarketState, mk: Order, reason: int, seq: int,
                 events: list[Event]) -> None:
    """Cancel a resting order already taken out of its level's totals."""
    mk.status = transition(mk.status, CANCEL)
    mk.updated_seq = seq
    _unindex(m, mk)
    g = m.grid
    asset = g.quote if mk.side == _BUY else g.base
    release = mk.hold
    bal = mk.acct.balances[asset]
    bal.hold -= release
    bal.available += release
    mk.hold = 0
    events.append(_new(OrderCanceled, (mk.no, mk.cid, mk.acct.id, reason,
                                       mk.qty - mk.remaining, mk.remaining, asset, release)))


def cancel_resting(m: MarketState, order: Order, reason: int, events: list[Event]) -> Level:
    """Take an open order out of the book (O(1): lazy deletion in its level)."""
    side: BookSide = m.bids if order.side == _BUY else m.asks
    lvl = side.remove(order)
    _close_maker(m, order, reason, m.seq, events)
    if lvl.count:
        side.compact(lvl)
    return lvl


def fillable(opp: BookSide, taker: Order, cap: int, stp: int) -> bool:
    """Could ``taker`` fill completely right now (FOK)? Walks only what it would take."""
    need = taker.remaining
    buy = taker.side == _BUY
    sign = opp.sign
    levels = opp.levels
    acct = taker.acct
    for key in reversed(opp.keys):
        price = key * sign
        if (price > cap) if buy else (price < cap):
            return False
        lvl = levels[price]
        if stp == _STP_NONE:
            need -= lvl.qty
        else:
            for o in lvl.orders:
                if o.status > _OPEN_MAX:
                    continue
                if o.acct is acct:
                    if stp == codes.STP_CANCEL_OLDEST:
                        continue
                    return False
                need -= o.remaining
                if need <= 0:
                    return True
        if need <= 0:
            return True
    return False
