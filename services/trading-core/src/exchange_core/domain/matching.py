"""The matching loop: an incoming order against the opposite side, price-time priority.

One function on the hot path, written flat on purpose (attribute and global lookups
hoisted into locals): it walks levels best-first and each level FIFO, applies
self-trade prevention, settles every fill against the risk balances (the settlement
identity of events.proto TradeExecuted, RISK-5) and appends the events.
"""

from typing import Final

from exchange_core.domain import codes
from exchange_core.domain.account import Balance
from exchange_core.domain.book import COMPACT_MIN_DEAD, BookSide, Level
from exchange_core.domain.events import Event, OrderCanceled, OrderFilled, TradeExecuted
from exchange_core.domain.fees import affordable_lots
from exchange_core.domain.invariants import violated
from exchange_core.domain.lifecycle import CANCEL, transition
from exchange_core.domain.market import PPM, PPM_CEIL
from exchange_core.domain.market_state import MarketState
from exchange_core.domain.order import Order

_BUY: Final = codes.BUY
_OPEN_MAX: Final = codes.STATUS_PARTIALLY_FILLED
_STP_NONE: Final = codes.STP_NONE
_NEWEST: Final = codes.STP_CANCEL_NEWEST
_BOTH: Final = codes.STP_CANCEL_BOTH
_FILLED: Final = codes.STATUS_FILLED
_PARTIAL: Final = codes.STATUS_PARTIALLY_FILLED
_CANCELED: Final = codes.STATUS_CANCELED


def match(m: MarketState, taker: Order, reserved: Balance, cap: int, stp: int,  # noqa: PLR0917
          fees: Balance, events: list[Event], touched: list[Level]) -> bool:
    """Fill ``taker`` up to ``cap`` (buy: highest, sell: lowest price; sell 0 = none).

    ``reserved`` is the taker's balance of the asset it reserved (quote for a buy, base
    for a sell). Returns True when self-trade prevention stopped the taker (its remainder must be
    canceled with reason SELF_TRADE_PREVENTION). The settlement of each fill (RISK-5,
    the identity of events.proto TradeExecuted) and the end of a filled maker are
    inlined: this loop is most of the engine's time.
    """
    g = m.grid
    buy = taker.side == _BUY
    opp = m.asks if buy else m.bids
    keys = opp.keys
    levels = opp.levels
    acct = taker.acct
    stp_on = stp != _STP_NONE
    seq = m.seq
    quote, base = g.quote, g.base
    quote_no, base_no = m.quote_no, m.base_no
    qptl, bpl = g.quote_per_tick_lot, g.base_per_lot
    t_ppm, m_ppm = g.taker_fee_ppm, g.maker_fee_ppm
    b_ppm = t_ppm if buy else m_ppm
    budget_buy = buy and not taker.unit
    mk_asset = base if buy else quote  # what the makers reserved
    mk_asset_no = base_no if buy else quote_no
    side = taker.side
    t_unit = taker.unit
    proceeds: Balance | None = None  # the taker's other balance, looked up at its first fill
    fee_acct = m.fee_account
    while keys:
        price = -keys[-1] if buy else keys[-1]  # ask keys are negated prices
        if (price > cap) if buy else (price < cap):
            return False
        lvl = levels[price]
        dq = lvl.orders
        while True:
            mk = dq[lvl.head]
            if mk.status > _OPEN_MAX:
                lvl.pop_front()
                lvl.dead -= 1
                continue
            mk_acct = mk.acct
            if stp_on and mk_acct is acct:
                outcome = _prevent_self_trade(m, lvl, mk, stp, events, touched)
                if outcome == _STOP:
                    return True
                if outcome == _LEVEL_DONE:
                    break
                continue
            q = mk.remaining if mk.remaining < taker.remaining else taker.remaining
            if budget_buy:
                q = min(q, affordable_lots(taker.hold, price, qptl, b_ppm))
                if q == 0:
                    return False
            # -- settle one fill of q lots at the maker's price (RISK-5) --
            cost = price * q * qptl
            base_amount = q * bpl
            mk_bals = mk_acct.slots  # by asset number (Account.slots)
            if buy:  # taker buys: its reserve is quote, the maker's is base
                fee_b = (cost * t_ppm + PPM_CEIL) // PPM  # ceil
                fee_s = (cost * m_ppm + PPM_CEIL) // PPM
                if t_unit:
                    release = q * t_unit
                    refund = release - cost - fee_b
                    if refund < 0:
                        violated("RISK-2", f"negative buyer refund on order {taker.no}")
                else:
                    release = cost + fee_b
                    refund = 0
                taker.hold -= release
                reserved.hold -= release
                reserved.available += refund
                if proceeds is None:
                    proceeds = acct.slot(base_no, base)
                proceeds.available += base_amount
                mk.hold -= base_amount
                bal = mk_bals[base_no]
                if bal is None:  # a resting sell holds base: never
                    violated("RISK-1", f"maker {mk.no} holds no {base}")
                bal.hold -= base_amount
                bal = mk_bals[quote_no]
                if bal is None:
                    bal = mk_acct.balance(quote)
                bal.available += cost - fee_s
            else:  # taker sells: its reserve is base, the maker's is quote
                fee_b = (cost * m_ppm + PPM_CEIL) // PPM
                fee_s = (cost * t_ppm + PPM_CEIL) // PPM
                release = q * mk.unit  # a resting buy always has a unit (never a budget)
                refund = release - cost - fee_b
                if refund < 0:
                    violated("RISK-2", f"negative buyer refund on order {mk.no}")
                mk.hold -= release
                bal = mk_bals[quote_no]
                if bal is None:  # a resting buy holds quote: never
                    violated("RISK-1", f"maker {mk.no} holds no {quote}")
                bal.hold -= release
                bal.available += refund
                bal = mk_bals[base_no]
                if bal is None:
                    bal = mk_acct.balance(base)
                bal.available += base_amount
                taker.hold -= base_amount
                reserved.hold -= base_amount
                if proceeds is None:
                    proceeds = acct.slot(quote_no, quote)
                proceeds.available += cost - fee_s
            fees.available += fee_b + fee_s
            m.touch(mk)  # the maker, its account and the fee account changed (state hash)
            m.touch_account(mk_acct)
            if fee_acct is not None:
                m.touch_account(fee_acct)
            mk.remaining -= q
            taker.remaining -= q
            m.trade_no = trade_no = m.trade_no + 1
            m.last_ticks = price
            events.append(TradeExecuted(
                trade_no, price, q, cost, side, mk.no, taker.no, mk_acct.id, acct.id,
                fee_b, fee_s, refund, mk.cid, taker.cid))
            # -- book and maker bookkeeping --
            if not touched or touched[-1] is not lvl:
                touched.append(lvl)
            lvl.qty -= q
            mk.updated_seq = seq
            if mk.remaining == 0:
                lvl.pop_front()
                lvl.count -= 1
                mk.level = None
                # The maker was open (checked above): NEW/PARTIALLY_FILLED -> FILLED is
                # the lifecycle table's FULL_FILL row (ME-6), set without the lookup.
                mk.status = _FILLED
                # _finish_maker, inlined: unindex, release what it still holds.
                mk_acct.unlink(mk)
                cid = mk.cid
                if cid and mk_acct.cids.get(cid) is mk:
                    del mk_acct.cids[cid]
                m.remember(mk)
                release = mk.hold
                if release:
                    bal = mk_acct.slot(mk_asset_no, mk_asset)
                    bal.hold -= release
                    bal.available += release
                    mk.hold = 0
                events.append(OrderFilled(mk.no, cid, mk_acct.id, mk.qty, mk_asset,
                                                 release))
            else:
                mk.status = _PARTIAL  # lifecycle PARTIAL_FILL from an open state (ME-6)
            if lvl.count == 0:
                opp.drop_level(lvl)
                if taker.remaining == 0:
                    return False
                break
            if taker.remaining == 0:
                return False
    return False


# Outcomes of meeting one's own resting order under an active STP mode.
_STOP: Final = 0  # the taker stops here (its remainder is canceled)
_LEVEL_DONE: Final = 1  # the resting order was canceled and its level emptied: next level
_SAME_LEVEL: Final = 2  # the resting order was canceled: keep matching in this level


def _prevent_self_trade(m: MarketState, lvl: Level, mk: Order, stp: int,  # noqa: PLR0917
                        events: list[Event], touched: list[Level]) -> int:
    if stp == _NEWEST:
        return _STOP
    if not touched or touched[-1] is not lvl:
        touched.append(lvl)
    lvl.pop_front()
    lvl.count -= 1
    lvl.qty -= mk.remaining
    mk.level = None
    _close_maker(m, mk, codes.CANCEL_SELF_TRADE_PREVENTION, m.seq, events)
    if lvl.count == 0:
        (m.bids if mk.side == _BUY else m.asks).drop_level(lvl)
    if stp == _BOTH:
        return _STOP
    return _LEVEL_DONE if lvl.count == 0 else _SAME_LEVEL


def _unindex(m: MarketState, order: Order) -> None:
    acct = order.acct
    acct.unlink(order)
    cid = order.cid
    if cid and acct.cids.get(cid) is order:
        del acct.cids[cid]
    m.remember(order)


def _close_maker(m: MarketState, mk: Order, reason: int, seq: int,
                 events: list[Event]) -> None:
    """Cancel a resting order already taken out of its level's totals."""
    mk.status = transition(mk.status, CANCEL)
    mk.updated_seq = seq
    m.touch(mk)
    m.touch_account(mk.acct)
    _unindex(m, mk)
    g = m.grid
    asset = g.quote if mk.side == _BUY else g.base
    release = mk.hold
    bal = mk.acct.balances[asset]
    bal.hold -= release
    bal.available += release
    mk.hold = 0
    events.append(OrderCanceled(mk.no, mk.cid, mk.acct.id, reason,
                                       mk.qty - mk.remaining, mk.remaining, asset, release))


def cancel_resting(m: MarketState, order: Order, reason: int, events: list[Event]) -> Level:
    """Take an open order out of the book (O(1): lazy deletion in its level).

    BookSide.remove + _close_maker + compact, inlined (the cancel path of every
    CancelOrder): the order is open, so NEW/PARTIALLY_FILLED -> CANCELED is the
    lifecycle table's CANCEL row (ME-6).
    """
    buy = order.side == _BUY
    side: BookSide = m.bids if buy else m.asks
    remaining = order.remaining
    lvl = order.level  # set by BookSide.add / _rest while the order rests
    if lvl is None:
        lvl = side.levels[order.price]
    order.level = None  # a closed order keeps no level (nor its queue) alive
    lvl.qty -= remaining
    lvl.count -= 1
    order.status = _CANCELED
    order.updated_seq = m.seq
    m.touch(order)
    acct = order.acct
    m.touch_account(acct)
    acct.unlink(order)
    cid = order.cid
    if cid and acct.cids.get(cid) is order:
        del acct.cids[cid]
    m.remember(order)
    asset = m.grid.quote if buy else m.grid.base
    release = order.hold
    bal = acct.slot(m.quote_no if buy else m.base_no, asset)  # exists: the order holds it
    bal.hold -= release
    bal.available += release
    order.hold = 0
    events.append(OrderCanceled(order.no, cid, acct.id, reason, order.qty - remaining,
                                       remaining, asset, release))
    if lvl.count == 0:
        side.drop_level(lvl)
    else:
        lvl.dead += 1
        if lvl.dead > COMPACT_MIN_DEAD and lvl.dead > lvl.count:
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
        price = key if sign > 0 else -key
        if (price > cap) if buy else (price < cap):
            return False
        lvl = levels[price]
        if stp == _STP_NONE:
            need -= lvl.qty
        else:
            for o in lvl.queued():
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
