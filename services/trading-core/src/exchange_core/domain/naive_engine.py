"""The reference engine: obviously correct, slow, written for reading — the test oracle.

Same public behaviour as ``Engine`` (same replies, events, canonical state), none of
its data structures: open orders live in one list per market and every question
(best price, level totals, who matches next, how many open orders) is answered by
scanning and sorting that list. Fees use exact fractions. Only tests use it.
"""

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.domain import codes
from exchange_core.domain.commands import (
    BalanceAdjust,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    SetSymbolMode,
)
from exchange_core.domain.events import (
    BalanceApplied,
    BookDelta,
    Event,
    Level,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    SymbolModeChanged,
    TradeExecuted,
)
from exchange_core.domain.lifecycle import CANCEL, FULL_FILL, PARTIAL_FILL, transition
from exchange_core.domain.market import EngineConfig, MarketGrid, parse_order_id
from exchange_core.domain.order import pack_kind
from exchange_core.domain.results import Batch, Result
from exchange_core.domain.state_codec import (
    FORMAT_VERSION,
    account_state,
    config_state,
    encode_state,
)
from exchange_core.domain.validation import check_account, check_place, normalized_tif


def ceil_fee(amount: int, ppm: int) -> int:
    return math.ceil(Fraction(amount * ppm, 1_000_000))


@dataclass
class NaiveOrder:
    no: int
    account: AccountId
    cid: str
    side: int
    kind: int
    price: int
    qty: int
    remaining: int
    hold: int
    unit: int
    status: int
    updated_seq: int

    def record(self) -> list[Any]:
        return [self.no, self.account, self.cid, self.side, self.kind, self.price, self.qty,
                self.remaining, self.hold, self.unit, self.status, self.updated_seq]


@dataclass
class NaiveMarket:
    grid: MarketGrid
    seq: int
    mode: int
    last: int
    trades: int
    book: list[NaiveOrder]  # open orders, any order; priority is computed when needed
    closed: list[NaiveOrder]


class NaiveEngine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        scales = {a.code: a.scale for a in config.assets}
        self.assets = scales
        self.markets = {s.symbol: NaiveMarket(MarketGrid(s, scales), 0, s.mode, 0, 0, [], [])
                        for s in config.markets}
        self.balances: dict[tuple[str, str], list[int]] = {}  # [available, hold]
        self.rate: dict[str, list[int]] = {}  # [window, count]
        self.adjustments: set[str] = set()
        self.account_seq = 0

    # ---- helpers ---------------------------------------------------------------------

    def bal(self, account: str, asset: str) -> list[int]:
        return self.balances.setdefault((account, asset), [0, 0])

    def admit(self, account: str, ts_ns: int) -> bool:
        limits = self.config.limits
        state = self.rate.setdefault(account, [-1, 0])
        if limits.rate_limit_count <= 0:
            return True
        window = ts_ns // limits.rate_limit_window_ns
        if window > state[0]:
            state[0], state[1] = window, 0
        if state[1] >= limits.rate_limit_count:
            return False
        state[1] += 1
        return True

    def open_orders_of(self, account: str) -> list[tuple[NaiveMarket, NaiveOrder]]:
        return [(m, o) for m in self.markets.values() for o in m.book if o.account == account]

    @staticmethod
    def priority(m: NaiveMarket, side: int) -> list[NaiveOrder]:
        """Open orders of ``side`` in matching priority: best price, then oldest."""
        orders = [o for o in m.book if o.side == side]
        if side == codes.BUY:
            return sorted(orders, key=lambda o: (-o.price, o.no))
        return sorted(orders, key=lambda o: (o.price, o.no))

    @staticmethod
    def level(m: NaiveMarket, side: int, price: int) -> Level:
        orders = [o for o in m.book if o.side == side and o.price == price]
        return (price, sum(o.remaining for o in orders), len(orders))

    def delta(self, m: NaiveMarket, touched: list[tuple[int, int]]) -> BookDelta:
        bids = sorted({p for s, p in touched if s == codes.BUY}, reverse=True)
        asks = sorted({p for s, p in touched if s == codes.SELL})
        return BookDelta(tuple(self.level(m, codes.BUY, p) for p in bids),
                         tuple(self.level(m, codes.SELL, p) for p in asks))

    def remember(self, m: NaiveMarket, order: NaiveOrder) -> None:
        retain = self.config.limits.closed_orders_retained
        if retain > 0:
            m.closed.append(order)
            del m.closed[:-retain]

    def reserved_asset(self, m: NaiveMarket, order: NaiveOrder) -> Asset:
        return m.grid.quote if order.side == codes.BUY else m.grid.base

    def close(self, m: NaiveMarket, order: NaiveOrder, trigger: int) -> int:
        """Take ``order`` out of the book, release its hold; returns the amount released."""
        order.status = transition(order.status, trigger)
        if order in m.book:
            m.book.remove(order)
        released = order.hold
        b = self.bal(order.account, self.reserved_asset(m, order))
        b[1] -= released
        b[0] += released
        order.hold = 0
        self.remember(m, order)
        return released

    def cancel_event(self, m: NaiveMarket, order: NaiveOrder, reason: int) -> OrderCanceled:
        order.updated_seq = m.seq
        released = self.close(m, order, CANCEL)
        return OrderCanceled(order.no, order.cid, order.account, reason,
                             order.qty - order.remaining, order.remaining,
                             self.reserved_asset(m, order), released)

    # ---- commands --------------------------------------------------------------------

    def apply(self, cmd: Command) -> Result:
        if isinstance(cmd, PlaceOrder):
            return self.place(cmd)
        if isinstance(cmd, CancelOrder):
            return self.cancel(cmd)
        if isinstance(cmd, CancelAll):
            return self.cancel_all(cmd)
        if isinstance(cmd, SetSymbolMode):
            return self.set_mode(cmd)
        return self.adjust(cmd)

    @staticmethod
    def reject(m: NaiveMarket, cmd: PlaceOrder | CancelOrder | CancelAll, code: int,
               reason: str, order_no: int = 0) -> Result:
        cid = "" if isinstance(cmd, CancelAll) else cmd.client_order_id
        return Result(code, reason, m.grid.symbol, m.seq,
                      [OrderRejected(cid, cmd.account_id, code, reason, order_no)], order_no, cid,
                      codes.STATUS_REJECTED)

    def band(self, m: NaiveMarket) -> tuple[int, int]:
        ref = m.last or m.grid.reference_ticks
        bps = m.grid.price_band_bps
        if not ref or not bps:
            return 0, 0
        return (math.ceil(Fraction(ref * (10_000 - bps), 10_000)),
                math.floor(Fraction(ref * (10_000 + bps), 10_000)))

    def place(self, cmd: PlaceOrder) -> Result:
        m = self.markets.get(cmd.symbol)
        if m is None:
            return Result(codes.UNKNOWN_SYMBOL, "unknown symbol", cmd.symbol, 0, [])
        m.seq += 1
        g = m.grid
        if m.mode == codes.MODE_HALTED:
            return self.reject(m, cmd, codes.SYMBOL_HALTED, "symbol is halted")
        if m.mode == codes.MODE_CANCEL_ONLY:
            return self.reject(m, cmd, codes.SYMBOL_CANCEL_ONLY, "symbol is cancel-only")
        code, reason = check_place(g, cmd)
        if code != codes.OK:
            return self.reject(m, cmd, code, reason)
        limit = cmd.order_type == codes.LIMIT
        buy = cmd.side == codes.BUY
        tif = normalized_tif(cmd.order_type, cmd.time_in_force)
        if m.mode == codes.MODE_POST_ONLY and not (limit and tif == codes.GTC):
            return self.reject(m, cmd, codes.SYMBOL_POST_ONLY, "symbol is post-only")
        low, high = self.band(m)
        if limit and high and not low <= cmd.price_ticks <= high:
            return self.reject(m, cmd, codes.PRICE_OUTSIDE_BAND, "price outside the band")
        if not self.admit(cmd.account_id, cmd.ts_ns):
            return self.reject(m, cmd, codes.RATE_LIMITED, "too many commands")
        mine = self.open_orders_of(cmd.account_id)
        if cmd.client_order_id and any(o.cid == cmd.client_order_id for _, o in mine):
            return self.reject(m, cmd, codes.DUPLICATE_CLIENT_ORDER_ID, "client_order_id in use")
        if len(mine) >= self.config.limits.max_open_orders:
            return self.reject(m, cmd, codes.TOO_MANY_OPEN_ORDERS, "too many open orders")
        opposite = self.priority(m, codes.SELL if buy else codes.BUY)
        post_only = cmd.post_only or m.mode == codes.MODE_POST_ONLY
        crosses_limit = [o for o in opposite
                         if (o.price <= cmd.price_ticks if buy else o.price >= cmd.price_ticks)]
        if post_only and crosses_limit:
            return self.reject(m, cmd, codes.POST_ONLY_WOULD_TAKE, "post-only would take")
        unit, hold = self.reserve(g, cmd)
        asset = g.quote if buy else g.base
        if self.bal(cmd.account_id, asset)[0] < hold:
            return self.reject(m, cmd, codes.INSUFFICIENT_FUNDS, f"needs {hold} {asset} available")
        stp = cmd.stp or codes.STP_NONE
        if limit:
            cap = cmd.price_ticks
        elif buy:
            cap = min(x for x in (cmd.protection_ticks, high) if x) if (
                cmd.protection_ticks or high) else 10**15
        else:
            cap = max(cmd.protection_ticks, low)
        reachable = [o for o in opposite if (o.price <= cap if buy else o.price >= cap)]
        if not limit and not reachable:
            return self.reject(m, cmd, codes.NO_LIQUIDITY, "no liquidity within bounds")
        if tif == codes.FOK and not self.fok_fillable(reachable, cmd, stp):
            return self.reject(m, cmd, codes.FOK_UNFILLABLE, "cannot fill completely")
        b = self.bal(cmd.account_id, asset)
        b[0] -= hold
        b[1] += hold
        order = NaiveOrder(m.seq, cmd.account_id, cmd.client_order_id, cmd.side,
                           pack_kind(cmd.order_type, tif, post_only, stp), cmd.price_ticks,
                           cmd.qty_lots, cmd.qty_lots, hold, unit, codes.STATUS_NEW, m.seq)
        events: list[Event] = [OrderAccepted(
            order.no, order.cid, cmd.account_id, cmd.side, cmd.order_type, tif,
            cmd.price_ticks, cmd.qty_lots, cmd.quote_budget, post_only, stp, asset, hold,
            cmd.protection_ticks)]
        touched: list[tuple[int, int]] = []
        stopped = False if post_only else self.match(m, order, cap, stp, events, touched)
        return self.finish(m, order, limit and tif == codes.GTC and not stopped, stopped, limit,
                           events, touched)

    @staticmethod
    def reserve(g: MarketGrid, cmd: PlaceOrder) -> tuple[int, int]:
        """(reserve per lot, total reserve): price x qty plus the worst fee, or the budget."""
        if cmd.side == codes.SELL:
            return g.base_per_lot, cmd.qty_lots * g.base_per_lot
        if cmd.order_type == codes.MARKET and cmd.quote_budget:
            return 0, cmd.quote_budget
        bound = cmd.price_ticks if cmd.order_type == codes.LIMIT else cmd.protection_ticks
        notional = bound * g.quote_per_tick_lot
        unit = notional + ceil_fee(notional, max(g.maker_fee_ppm, g.taker_fee_ppm))
        return unit, cmd.qty_lots * unit

    @staticmethod
    def fok_fillable(reachable: list[NaiveOrder], cmd: PlaceOrder, stp: int) -> bool:
        total = 0
        for o in reachable:
            if o.account == cmd.account_id and stp != codes.STP_NONE:
                if stp == codes.STP_CANCEL_OLDEST:
                    continue
                break
            total += o.remaining
        return total >= cmd.qty_lots

    def affordable(self, budget: int, price: int, k: int, ppm: int, most: int) -> int:
        """Largest q <= most that the budget pays for, fee included (binary search)."""
        lo, hi = 0, most
        while lo < hi:
            mid = (lo + hi + 1) // 2
            cost = price * mid * k
            if cost + ceil_fee(cost, ppm) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def match(self, m: NaiveMarket, taker: NaiveOrder, cap: int, stp: int,  # noqa: PLR0917
              events: list[Event], touched: list[tuple[int, int]]) -> bool:
        g = m.grid
        buy = taker.side == codes.BUY
        while taker.remaining:
            queue = self.priority(m, codes.SELL if buy else codes.BUY)
            if not queue or (queue[0].price > cap if buy else queue[0].price < cap):
                return False
            mk = queue[0]
            if mk.account == taker.account and stp != codes.STP_NONE:
                if stp == codes.STP_CANCEL_NEWEST:
                    return True
                touched.append((mk.side, mk.price))
                events.append(self.cancel_event(m, mk, codes.CANCEL_SELF_TRADE_PREVENTION))
                if stp == codes.STP_CANCEL_BOTH:
                    return True
                continue
            if not self.trade(m, g, taker, mk, events):
                return False
            touched.append((mk.side, mk.price))
        return False

    def trade(self, m: NaiveMarket, g: MarketGrid, taker: NaiveOrder, mk: NaiveOrder,
              events: list[Event]) -> bool:
        """One fill at the maker's price; False when a quote budget buys nothing more."""
        buy = taker.side == codes.BUY
        buyer, seller = (taker, mk) if buy else (mk, taker)
        b_ppm = g.taker_fee_ppm if buy else g.maker_fee_ppm
        s_ppm = g.maker_fee_ppm if buy else g.taker_fee_ppm
        k, price = g.quote_per_tick_lot, mk.price
        q = min(mk.remaining, taker.remaining)
        if buy and taker.unit == 0:
            q = self.affordable(taker.hold, price, k, b_ppm, q)
            if q == 0:
                return False
        cost = price * q * k
        fee_b, fee_s = ceil_fee(cost, b_ppm), ceil_fee(cost, s_ppm)
        release = q * buyer.unit if buyer.unit else cost + fee_b
        refund = release - cost - fee_b
        buyer.hold -= release
        self.bal(buyer.account, g.quote)[1] -= release
        self.bal(buyer.account, g.quote)[0] += refund
        self.bal(buyer.account, g.base)[0] += q * g.base_per_lot
        seller.hold -= q * g.base_per_lot
        self.bal(seller.account, g.base)[1] -= q * g.base_per_lot
        self.bal(seller.account, g.quote)[0] += cost - fee_s
        self.bal(self.config.fee_account, g.quote)[0] += fee_b + fee_s
        m.trades += 1
        events.append(TradeExecuted(m.trades, price, q, cost, taker.side, mk.no, taker.no,
                                    mk.account, taker.account, fee_b, fee_s, refund, mk.cid,
                                    taker.cid))
        m.last = price
        mk.remaining -= q
        taker.remaining -= q
        mk.updated_seq = m.seq
        if mk.remaining == 0:
            released = self.close(m, mk, FULL_FILL)
            events.append(OrderFilled(mk.no, mk.cid, mk.account, mk.qty,
                                      self.reserved_asset(m, mk), released))
        else:
            mk.status = transition(mk.status, PARTIAL_FILL)
        return True

    def finish(self, m: NaiveMarket, order: NaiveOrder, rests: bool, stopped: bool,  # noqa: PLR0917
               limit: bool, events: list[Event], touched: list[tuple[int, int]]) -> Result:
        filled = order.qty - order.remaining
        asset = self.reserved_asset(m, order)
        if order.remaining == 0:
            released = self.close(m, order, FULL_FILL)
            events.append(OrderFilled(order.no, order.cid, order.account, filled, asset,
                                      released))
        else:
            if filled:
                order.status = transition(order.status, PARTIAL_FILL)
            if rests:
                m.book.append(order)
                touched.append((order.side, order.price))
            else:
                reason = (codes.CANCEL_SELF_TRADE_PREVENTION if stopped else
                          codes.CANCEL_IOC_REMAINDER if limit else codes.CANCEL_MARKET_REMAINDER)
                released = self.close(m, order, CANCEL)
                events.append(OrderCanceled(order.no, order.cid, order.account, reason, filled,
                                            order.remaining, asset, released))
        if touched:
            events.append(self.delta(m, touched))
        return Result(codes.OK, "", m.grid.symbol, m.seq, events, order.no, order.cid,
                      order.status, filled)

    def cancel(self, cmd: CancelOrder) -> Result:
        m = self.markets.get(cmd.symbol)
        if m is None:
            return Result(codes.UNKNOWN_SYMBOL, "unknown symbol", cmd.symbol, 0, [])
        m.seq += 1
        if m.mode == codes.MODE_HALTED:
            return self.reject(m, cmd, codes.SYMBOL_HALTED, "symbol is halted")
        code, reason = check_account(cmd.account_id)
        if code != codes.OK:
            return self.reject(m, cmd, code, reason)
        if not self.admit(cmd.account_id, cmd.ts_ns):
            return self.reject(m, cmd, codes.RATE_LIMITED, "too many commands")
        mine = [o for o in m.book if o.account == cmd.account_id]
        if cmd.order_id:
            no = parse_order_id(m.grid.symbol, cmd.order_id)
            found = [o for o in mine if o.no == no]
            if not found:
                named = no if any(o.no == no and o.account == cmd.account_id
                                  for o in m.closed) else 0
                return self.reject(m, cmd, codes.ORDER_NOT_FOUND, "no such open order", named)
        elif cmd.client_order_id:
            found = [o for o in mine if o.cid == cmd.client_order_id]
            if not found:
                return self.reject(m, cmd, codes.ORDER_NOT_FOUND, "no such open order")
        else:
            return self.reject(m, cmd, codes.ORDER_NOT_FOUND, "order_id or client_order_id needed")
        order = found[0]
        events: list[Event] = [self.cancel_event(m, order, codes.CANCEL_USER)]
        events.append(self.delta(m, [(order.side, order.price)]))
        return Result(codes.OK, "", m.grid.symbol, m.seq, events, order.no, order.cid,
                      order.status, order.qty - order.remaining)

    def cancel_all(self, cmd: CancelAll) -> Result:
        if cmd.account_id:
            code, reason = check_account(cmd.account_id)
            if code == codes.OK and not self.admit(cmd.account_id, cmd.ts_ns):
                code, reason = codes.RATE_LIMITED, "too many commands"
            if code != codes.OK:
                rm = self.markets.get(cmd.symbol) if cmd.symbol else None
                if rm is None:
                    return Result(code, reason, cmd.symbol, 0, [])
                rm.seq += 1
                return self.reject(rm, cmd, code, reason)
        why = codes.CANCEL_ALL if cmd.account_id else codes.CANCEL_ADMIN
        if cmd.symbol:
            m = self.markets.get(cmd.symbol)
            if m is None:
                return Result(codes.UNKNOWN_SYMBOL, "unknown symbol", cmd.symbol, 0, [])
            m.seq += 1
            if m.mode == codes.MODE_HALTED:
                return self.reject(m, cmd, codes.SYMBOL_HALTED, "symbol is halted")
            events = self.cancel_many(m, cmd.account_id, why)
            return Result(codes.OK, "", m.grid.symbol, m.seq, events,
                          canceled_count=sum(isinstance(e, OrderCanceled) for e in events))
        batches = []
        for symbol in sorted(self.markets):
            m = self.markets[symbol]
            victims = [o for o in m.book if not cmd.account_id or o.account == cmd.account_id]
            if m.mode == codes.MODE_HALTED or not victims:
                continue
            m.seq += 1
            batches.append(Batch(symbol, m.seq, self.cancel_many(m, cmd.account_id, why)))
        count = sum(isinstance(e, OrderCanceled) for b in batches for e in b.events)
        return Result(codes.OK, "", Symbol(""), 0, [], canceled_count=count, more=tuple(batches))

    def cancel_many(self, m: NaiveMarket, account: str, why: int) -> list[Event]:
        victims = sorted((o for o in m.book if not account or o.account == account),
                         key=lambda o: o.no)
        events: list[Event] = [self.cancel_event(m, o, why) for o in victims]
        if victims:
            events.append(self.delta(m, [(o.side, o.price) for o in victims]))
        return events

    def set_mode(self, cmd: SetSymbolMode) -> Result:
        m = self.markets.get(cmd.symbol)
        if m is None:
            return Result(codes.UNKNOWN_SYMBOL, "unknown symbol", cmd.symbol, 0, [])
        m.seq += 1
        if cmd.mode not in (1, 2, 3, 4):
            return Result(codes.INVALID_MODE, "unknown mode", m.grid.symbol, m.seq, [],
                          mode=m.mode)
        previous, m.mode = m.mode, cmd.mode
        return Result(codes.OK, "", m.grid.symbol, m.seq,
                      [SymbolModeChanged(cmd.mode, previous)], mode=cmd.mode)

    def adjust(self, cmd: BalanceAdjust) -> Result:
        self.account_seq += 1
        code, reason = check_account(cmd.account_id)
        if not cmd.adjustment_id or len(cmd.adjustment_id) > 128:
            code, reason = codes.INVALID_AMOUNT, "adjustment_id must be 1..128 characters"
        elif code != codes.OK:
            pass
        elif cmd.asset not in self.assets:
            code, reason = codes.INVALID_AMOUNT, "unknown asset"
        elif cmd.delta == 0:
            code, reason = codes.INVALID_AMOUNT, "delta must not be 0"
        elif cmd.adjustment_id in self.adjustments:
            code, reason = codes.DUPLICATE_EVENT, "adjustment already applied"
        else:
            self.adjustments.add(cmd.adjustment_id)
            b = self.bal(cmd.account_id, cmd.asset)
            if b[0] + cmd.delta < 0:
                code, reason = codes.INSUFFICIENT_FUNDS, "debit exceeds available"
            else:
                b[0] += cmd.delta
        return Result(code, reason, Symbol(""), self.account_seq,
                      [BalanceApplied(cmd.adjustment_id, cmd.account_id, cmd.asset, cmd.delta,
                                      code == codes.OK, code)])

    # ---- state -----------------------------------------------------------------------

    def canonical_state(self) -> dict[str, Any]:
        markets = []
        for symbol in sorted(self.markets):
            m = self.markets[symbol]
            sides = {}
            for side, key in ((codes.BUY, "bids"), (codes.SELL, "asks")):
                prices = sorted({o.price for o in m.book if o.side == side},
                                reverse=side == codes.BUY)
                sides[key] = [[p, [o.record() for o in self.priority(m, side) if o.price == p]]
                              for p in prices]
            markets.append({"symbol": symbol, "seq": m.seq, "mode": m.mode, "last": m.last,
                            "trades": m.trades, "bids": sides["bids"], "asks": sides["asks"],
                            "closed": [o.record() for o in m.closed]})
        accounts = []
        for account in sorted({a for a, _ in self.balances} | set(self.rate)):
            window, count = self.rate.get(account, [-1, 0])
            rec = account_state(account, {Asset(asset): (b[0], b[1]) for (a, asset), b in
                                          self.balances.items() if a == account},
                                window, count)
            if rec is not None:
                accounts.append(rec)
        return {"version": FORMAT_VERSION, "config": config_state(self.config),
                "account_seq": self.account_seq, "adjustments": sorted(self.adjustments),
                "markets": markets, "accounts": accounts}

    def snapshot(self) -> bytes:
        return encode_state(self.canonical_state())
