"""The engine: the pipeline of every command, spelled out in one place.

PlaceOrder: sequence -> symbol mode -> static checks -> price band -> rate limit ->
client id -> open-order limit -> post-only -> funds -> liquidity/FOK -> reserve (risk
pre-hold) -> match + settle -> rest or cancel the remainder (risk release) -> book delta.
Every stage either rejects (a returned code; nothing changed except the sequence number
and the account's rate-limit counter) or moves to the next one.
"""

from bisect import insort
from typing import Final

from mypy_extensions import i64

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.domain import codes, state_codec, state_hash
from exchange_core.domain.account import Account, Balance
from exchange_core.domain.book import Level
from exchange_core.domain.commands import (
    BalanceAdjust,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    SetSymbolMode,
)
from exchange_core.domain.digest import text_digest
from exchange_core.domain.events import (
    BalanceApplied,
    BookDelta,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    SymbolModeChanged,
    one_level,
)
from exchange_core.domain.fees import buy_unit
from exchange_core.domain.invariants import ConfigError
from exchange_core.domain.lifecycle import CANCEL, FULL_FILL, PARTIAL_FILL, transition
from exchange_core.domain.market import (
    PPM,
    PPM_CEIL,
    PRICE_TICKS_MAX,
    EngineConfig,
    MarketGrid,
)
from exchange_core.domain.market_state import MarketState
from exchange_core.domain.matching import cancel_resting, fillable, match
from exchange_core.domain.order import Order, unpack_kind
from exchange_core.domain.results import BalanceView, Batch, BookDepth, OrderView, Result
from exchange_core.domain.state_check import check_engine
from exchange_core.domain.validation import (
    ACCOUNT_ID_MAX_LEN,
    CLIENT_ORDER_ID_MAX_LEN,
    check_account,
    check_place,
    normalized_tif,
)

ADJUSTMENT_ID_MAX_LEN = 128
# Changed orders waiting to be folded into the state hash: past this many, apply folds
# them (~2 ms) so the list stays bounded even if nobody asks for the hash.
DIRTY_FOLD_AT: Final = 8192
_NO_BAND: Final = (0, 0)
# Codes as module constants: one dict lookup instead of two on the hot path.
_OK: Final = codes.OK
_BUY: Final = codes.BUY
_SELL: Final = codes.SELL
_LIMIT: Final = codes.LIMIT
_GTC: Final = codes.GTC
_FOK: Final = codes.FOK
_STP_NONE: Final = codes.STP_NONE
_STP_BOTH: Final = codes.STP_CANCEL_BOTH
_NORMAL: Final = codes.MODE_NORMAL
_HALTED: Final = codes.MODE_HALTED
_CANCEL_ONLY: Final = codes.MODE_CANCEL_ONLY
_POST_ONLY_MODE: Final = codes.MODE_POST_ONLY
_STATUS_NEW: Final = codes.STATUS_NEW
_OPEN_MAX: Final = codes.STATUS_PARTIALLY_FILLED
_CANCEL_USER: Final = codes.CANCEL_USER
_REJECTED: Final = codes.STATUS_REJECTED
_NOT_FOUND: Final = codes.ORDER_NOT_FOUND
_CANCEL_STP: Final = codes.CANCEL_SELF_TRADE_PREVENTION
_CANCEL_IOC: Final = codes.CANCEL_IOC_REMAINDER
_CANCEL_MARKET: Final = codes.CANCEL_MARKET_REMAINDER
# The command classes as Final names: the mypyc build keeps them in C statics (a module
# global would be a dict lookup on every dispatch).
_PLACE: Final = PlaceOrder
_CANCEL: Final = CancelOrder
_CANCEL_ALL: Final = CancelAll
_SET_MODE: Final = SetSymbolMode
_ADJUST: Final = BalanceAdjust


class Engine:
    """Markets, books and per-account risk of one shard; applies commands in order."""

    __slots__ = (
        "_accounts",
        "_adjustments",
        "_asset_digests",
        "_asset_no",
        "_config_digest",
        "_dirty_accounts",
        "_dirty_orders",
        "_fee_account",
        "_hash_accounts",
        "_hash_adjustments",
        "_last_market",
        "_markets",
        "_max_open",
        "_rl_count",
        "_rl_window_ns",
        "_scales",
        "account_seq",
        "config",
    )

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._scales: dict[Asset, int] = {}
        for asset in config.assets:
            if asset.code in self._scales or not 0 <= asset.scale <= 18 or not asset.code:
                raise ConfigError(f"asset {asset.code!r}: duplicate or scale not in 0..18")
            self._scales[asset.code] = asset.scale
        limits = config.limits
        if limits.max_open_orders <= 0 or limits.rate_limit_window_ns <= 0:
            raise ConfigError("max_open_orders and rate_limit_window_ns must be > 0")
        # The limits, hoisted for the hot path (the config is immutable).
        self._max_open = limits.max_open_orders
        self._rl_count = limits.rate_limit_count
        self._rl_window_ns = limits.rate_limit_window_ns
        self._markets: dict[Symbol, MarketState] = {}
        self._last_market: MarketState | None = None  # of the last PlaceOrder/CancelOrder
        for spec in sorted(config.markets, key=lambda s: s.symbol):
            if spec.symbol in self._markets or not spec.symbol:
                raise ConfigError(f"market {spec.symbol!r}: duplicate or empty symbol")
            grid = MarketGrid(spec, self._scales)
            self._markets[spec.symbol] = MarketState(grid, limits.closed_orders_retained)
        if not config.fee_account:
            raise ConfigError("fee_account must not be empty")
        # Assets numbered in asset order: an account's balances by number (Account.slots).
        self._asset_no = {a: i for i, a in enumerate(sorted(self._scales))}
        self._accounts: dict[AccountId, Account] = {}
        self._fee_account = self._account(config.fee_account)
        # Incremental state hash (state_hash.py): digest sums and what changed since.
        self._dirty_orders: list[Order] = []
        self._dirty_accounts: list[Account] = []
        self._hash_accounts = 0
        self._hash_adjustments = 0
        # (asset, digest) in asset order: an account's balances are digested in it.
        self._asset_digests = [text_digest(a) for a in sorted(self._scales)]
        self._config_digest = state_hash.config_digest(
            state_codec.encode_state(state_codec.config_state(config)))
        for m in self._markets.values():
            # The Balance object stays the same for the engine's life (restore updates it
            # in place), so the hot path credits fees without a lookup.
            m.fee_balance = self._fee_account.balance(m.grid.quote)
            m.fee_account = self._fee_account
            m.base_no = self._asset_no[m.grid.base]
            m.quote_no = self._asset_no[m.grid.quote]
            m.symbol_digest = text_digest(m.symbol)
            m.dirty_orders = self._dirty_orders
            m.dirty_accounts = self._dirty_accounts
        self._adjustments: set[str] = set()
        self.account_seq = 0

    # ---- commands ---------------------------------------------------------------------

    def apply(self, cmd: Command) -> Result:
        """Apply one sequenced command; never raises for a business outcome."""
        kind = type(cmd)
        if kind is _PLACE:
            result = self._place(cmd)  # type: ignore[arg-type]
        elif kind is _CANCEL:
            result = self._cancel(cmd)  # type: ignore[arg-type]
        else:
            return self._apply_other(cmd)
        if len(self._dirty_orders) > DIRTY_FOLD_AT:
            self.hash_dirty()  # bounded memory for hosts that rarely take the hash
        return result

    def _apply_other(self, cmd: Command) -> Result:
        kind = type(cmd)
        if kind is _CANCEL_ALL:
            return self._cancel_all(cmd)  # type: ignore[arg-type]
        if kind is _SET_MODE:
            return self._set_mode(cmd)  # type: ignore[arg-type]
        if kind is _ADJUST:
            return self._adjust(cmd)  # type: ignore[arg-type]
        raise TypeError(f"not a command: {kind.__name__}")

    def _market(self, symbol: Symbol) -> MarketState | None:
        """The market of a PlaceOrder/CancelOrder; consecutive commands of one market skip
        the dict lookup (a string compare instead)."""
        m = self._last_market
        if m is None or m.symbol != symbol:
            m = self._markets.get(symbol)
            if m is not None:
                self._last_market = m
        return m

    def _account(self, account_id: AccountId) -> Account:
        acct = self._accounts.get(account_id)
        if acct is None:
            acct = self._accounts[account_id] = Account(account_id, self._asset_no)
        return acct

    def _place(self, cmd: PlaceOrder) -> Result:
        (symbol, account_id, cid, side, otype, tif, price, qty, budget, protection,
         post_only, stp, ts_ns, _) = cmd
        m = self._market(symbol)
        if m is None:
            return Result(codes.UNKNOWN_SYMBOL, "unknown symbol", symbol, 0, [])
        m.seq = seq = m.seq + 1
        mode = m.mode
        if mode != _NORMAL:
            if mode == _HALTED:
                return _reject(m, cid, account_id, codes.SYMBOL_HALTED, "symbol is halted")
            if mode == _CANCEL_ONLY:
                return _reject(m, cid, account_id, codes.SYMBOL_CANCEL_ONLY,
                               "symbol is cancel-only")
        g = m.grid
        limit = otype == _LIMIT
        # Fast static check of the common case (a valid LIMIT); anything it does not
        # accept goes through check_place, which names the first failure (RISK-7).
        if (limit and 0 <= tif <= _FOK and 0 < len(account_id) <= ACCOUNT_ID_MAX_LEN
                and len(cid) <= CLIENT_ORDER_ID_MAX_LEN and _BUY <= side <= _SELL
                and 0 <= stp <= _STP_BOTH and (not post_only or tif <= _GTC)
                and g.min_lots <= qty <= g.max_lots and 0 < price <= PRICE_TICKS_MAX
                and not budget and not protection
                and price * qty * g.quote_per_tick_lot >= g.min_notional):
            if not tif:
                tif = _GTC
        else:
            code, reason = check_place(g, cmd)
            if code != _OK:
                return _reject(m, cid, account_id, code, reason)
            tif = normalized_tif(otype, tif)
        if mode == _POST_ONLY_MODE and (not limit or tif != _GTC):
            return _reject(m, cid, account_id, codes.SYMBOL_POST_ONLY, "symbol is post-only")
        buy = side == _BUY
        ref = m.last_ticks or g.reference_ticks
        if ref != m.band_ref:
            m.band_ref = ref
            m.band_low, m.band_high = _band(m)
        low, high = m.band_low, m.band_high
        if limit and high and not low <= price <= high:
            return _reject(m, cid, account_id, codes.PRICE_OUTSIDE_BAND, "price outside the band")
        acct = self._accounts.get(account_id)
        if acct is None:
            acct = self._account(account_id)
        m.touch_account(acct)  # rate-limit count and reserve (state hash)
        rl_count = self._rl_count
        if rl_count > 0:  # Account.admit, inlined
            window = ts_ns // self._rl_window_ns
            if window > acct.rl_window:
                acct.rl_window = window
                acct.rl_count = 0
            if acct.rl_count >= rl_count:
                return _reject(m, cid, account_id, codes.RATE_LIMITED, "too many commands")
            acct.rl_count += 1
        if cid and cid in acct.cids:
            return _reject(m, cid, account_id, codes.DUPLICATE_CLIENT_ORDER_ID,
                           "client_order_id in use")
        if acct.open_count >= self._max_open:
            return _reject(m, cid, account_id, codes.TOO_MANY_OPEN_ORDERS, "too many open orders")
        opp = m.asks if buy else m.bids
        post_only = post_only or mode == _POST_ONLY_MODE
        if post_only:
            best = opp.best()
            if best and (best <= price if buy else best >= price):
                return _reject(m, cid, account_id, codes.POST_ONLY_WOULD_TAKE,
                               "post-only would take")
        if not buy:
            asset = g.base
            unit = g.base_per_lot
            hold = qty * unit
        elif limit:  # buy_unit, inlined (RISK-2)
            notional = price * g.quote_per_tick_lot
            unit = notional + (notional * g.max_fee_ppm + PPM_CEIL) // PPM
            asset = g.quote
            hold = qty * unit
        else:
            asset, unit, hold = _reserve(g, cmd, limit, buy)
        bal = acct.slots[m.quote_no if buy else m.base_no]
        if bal is None:
            bal = acct.balance(asset)
        if bal.available < hold:
            return _reject(m, cid, account_id, codes.INSUFFICIENT_FUNDS,
                           f"needs {hold} {asset} available")
        stp = stp or _STP_NONE
        cap = price if limit else _market_cap(buy, protection, low, high)
        order = Order(seq, m.symbol, acct, cid, side,
                      otype | tif << 2 | post_only << 4 | stp << 5,  # order.pack_kind
                      price, qty, hold, unit)
        if not limit:
            best = opp.best()
            if not best or (best > cap if buy else best < cap):
                return _reject(m, cid, account_id, codes.NO_LIQUIDITY, "no liquidity within bounds")
        if tif == _FOK and not fillable(opp, order, cap, stp):
            return _reject(m, cid, account_id, codes.FOK_UNFILLABLE, "cannot fill completely")
        bal.available -= hold
        bal.hold += hold
        accepted = OrderAccepted(seq, cid, acct.id, side, otype, tif, price, qty,
                                        budget, post_only, stp, asset, hold, protection)
        keys = opp.keys
        if keys and not post_only and (-keys[-1] <= cap if buy else keys[-1] >= cap):
            # (ask keys are negated prices, see book.py)
            events: list[Event] = [accepted]
            touched: list[Level] = []
            stopped = match(m, order, bal, cap, stp, m.fee_balance, events, touched)
            return self._finish_taker(m, order, bal, asset,
                                      limit and tif == _GTC and not stopped,
                                      _remainder_reason(stopped, limit), events, touched)
        if not limit or tif != _GTC:
            return self._finish_taker(m, order, bal, asset, False,
                                      _remainder_reason(False, limit), [accepted], [])
        return Result(_OK, "", m.symbol, seq, [accepted, _rest(m, order, buy)], seq,
                             cid, _STATUS_NEW, 0, 0, 0, ())

    def _finish_taker(self, m: MarketState, order: Order, bal: Balance, asset: Asset,  # noqa: PLR0917
                      rests: bool, reason: int, events: list[Event],
                      touched: list[Level]) -> Result:
        """After matching: filled, rest in the book, or cancel the remainder.

        ``touched`` holds the opposite side's levels in the order matching met them
        (best first, no repeats), so the BookDelta needs no sort (see ``_delta``).
        """
        remaining = order.remaining
        filled = order.qty - remaining
        own: Level | None = None  # the taker's level if it rests
        if remaining == 0:
            order.status = transition(order.status, FULL_FILL)
            release = order.hold
            bal.hold -= release
            bal.available += release
            order.hold = 0
            events.append(OrderFilled(order.no, order.cid, order.acct.id, filled, asset,
                                      release))
            m.orders[order.no] = order  # indexed while retained (MarketState.remember)
            m.remember(order)
        else:
            if filled:
                order.status = transition(order.status, PARTIAL_FILL)
            if rests:
                own = (m.bids if order.side == _BUY else m.asks).add(order)
                m.orders[order.no] = order
                order.acct.link(order)
                if order.cid:
                    order.acct.cids[order.cid] = order
            else:
                order.status = transition(order.status, CANCEL)
                release = order.hold
                bal.hold -= release
                bal.available += release
                order.hold = 0
                events.append(OrderCanceled(order.no, order.cid, order.acct.id, reason,
                                            filled, remaining, asset, release))
                m.orders[order.no] = order
                m.remember(order)
        m.touch(order)
        if own is not None:
            mine = ((own.price, own.qty, own.count),)
            met = tuple([(lv.price, lv.qty, lv.count) for lv in touched])
            events.append(BookDelta(mine, met) if order.side == _BUY else BookDelta(met, mine))
        elif len(touched) == 1:
            lvl = touched[0]
            events.append(one_level(lvl.side, lvl.price, lvl.qty, lvl.count))
        elif touched:
            met = tuple([(lv.price, lv.qty, lv.count) for lv in touched])
            events.append(BookDelta((), met) if order.side == _BUY else BookDelta(met, ()))
        return Result(_OK, "", m.symbol, m.seq, events, order.no, order.cid,
                             order.status, filled, 0, 0, ())

    def _cancel(self, cmd: CancelOrder) -> Result:
        symbol, account_id, order_id, cid, ts_ns, _ = cmd
        m = self._market(symbol)
        if m is None:
            return Result(codes.UNKNOWN_SYMBOL, "unknown symbol", symbol, 0, [])
        m.seq = seq = m.seq + 1
        if m.mode == _HALTED:
            return _reject(m, cid, account_id, codes.SYMBOL_HALTED, "symbol is halted")
        if not account_id or len(account_id) > ACCOUNT_ID_MAX_LEN:
            code, reason = check_account(account_id)
            return _reject(m, cid, account_id, code, reason)
        acct = self._accounts.get(account_id)
        if acct is None:
            acct = self._account(account_id)
        m.touch_account(acct)
        rl_count = self._rl_count
        if rl_count > 0:  # Account.admit, inlined
            window = ts_ns // self._rl_window_ns
            if window > acct.rl_window:
                acct.rl_window = window
                acct.rl_count = 0
            if acct.rl_count >= rl_count:
                return _reject(m, cid, account_id, codes.RATE_LIMITED, "too many commands")
            acct.rl_count += 1
        order: Order | None
        if order_id:
            no = _order_number(order_id, m.id_prefix)
            order = m.orders.get(no)  # open, or closed and still retained
            if order is None or order.acct is not acct or order.status > _OPEN_MAX:
                named = no if order is not None and order.acct is acct else 0
                return _reject(m, cid, account_id, _NOT_FOUND, "no such open order", named)
        elif cid:
            order = acct.cids.get(cid)
            if order is None or order.sym != m.symbol:
                return _reject(m, cid, account_id, _NOT_FOUND, "no such open order")
        else:
            return _reject(m, cid, account_id, _NOT_FOUND, "order_id or client_order_id needed")
        events: list[Event] = []
        lvl = cancel_resting(m, order, _CANCEL_USER, events)
        events.append(one_level(lvl.side, lvl.price, lvl.qty, lvl.count))
        return Result(_OK, "", m.symbol, seq, events, order.no, order.cid,
                             order.status, order.qty - order.remaining, 0, 0, ())

    def _cancel_all(self, cmd: CancelAll) -> Result:
        acct: Account | None = None
        if cmd.account_id:
            code, reason = check_account(cmd.account_id)
            if code == codes.OK:
                acct = self._account(cmd.account_id)
                self._touch_account(acct)
                limits = self.config.limits
                if not acct.admit(cmd.ts_ns, limits.rate_limit_window_ns,
                                  limits.rate_limit_count):
                    code, reason = codes.RATE_LIMITED, "too many commands"
            if code != codes.OK:
                m = self._markets.get(cmd.symbol) if cmd.symbol else None
                if m is None:
                    return Result(code, reason, cmd.symbol, 0, [])
                m.seq += 1
                return _reject(m, "", cmd.account_id, code, reason)
        reason_code = codes.CANCEL_ALL if acct is not None else codes.CANCEL_ADMIN
        if cmd.symbol:
            m = self._markets.get(cmd.symbol)
            if m is None:
                return Result(codes.UNKNOWN_SYMBOL, "unknown symbol", cmd.symbol, 0, [])
            m.seq += 1
            if m.mode == codes.MODE_HALTED:
                return _reject(m, "", cmd.account_id, codes.SYMBOL_HALTED, "symbol is halted")
            events = _cancel_many(m, acct, reason_code)
            count = sum(1 for e in events if type(e) is OrderCanceled)
            return Result(codes.OK, "", m.symbol, m.seq, events, canceled_count=count)
        batches = []
        count = 0
        for m in self._markets.values():
            if m.mode == codes.MODE_HALTED or not _has_orders(m, acct):
                continue
            m.seq += 1
            events = _cancel_many(m, acct, reason_code)
            count += sum(1 for e in events if type(e) is OrderCanceled)
            batches.append(Batch(m.symbol, m.seq, events))
        return Result(codes.OK, "", Symbol(""), 0, [], canceled_count=count,
                      more=tuple(batches))

    def _set_mode(self, cmd: SetSymbolMode) -> Result:
        m = self._markets.get(cmd.symbol)
        if m is None:
            return Result(codes.UNKNOWN_SYMBOL, "unknown symbol", cmd.symbol, 0, [])
        m.seq += 1
        if cmd.mode not in (codes.MODE_NORMAL, codes.MODE_POST_ONLY, codes.MODE_CANCEL_ONLY,
                            codes.MODE_HALTED):
            return Result(codes.INVALID_MODE, "unknown mode", m.symbol, m.seq, [],
                          mode=m.mode)
        previous = m.mode
        m.mode = cmd.mode
        return Result(codes.OK, "", m.symbol, m.seq, [SymbolModeChanged(cmd.mode, previous)],
                      mode=cmd.mode)

    def _adjust(self, cmd: BalanceAdjust) -> Result:
        self.account_seq += 1
        code, reason = self._check_adjust(cmd)
        if code == codes.OK:
            self._adjustments.add(cmd.adjustment_id)
            self._hash_adjustments += state_hash.adjustment_digest(cmd.adjustment_id)
            acct = self._account(cmd.account_id)
            self._touch_account(acct)
            bal = acct.balance(cmd.asset)
            if bal.available + cmd.delta < 0:
                code, reason = codes.INSUFFICIENT_FUNDS, "debit exceeds available"
            else:
                bal.available += cmd.delta
        event = BalanceApplied(cmd.adjustment_id, cmd.account_id, cmd.asset, cmd.delta,
                               code == codes.OK, code)
        return Result(code, reason, Symbol(""), self.account_seq, [event])

    def _check_adjust(self, cmd: BalanceAdjust) -> tuple[int, str]:
        if not cmd.adjustment_id or len(cmd.adjustment_id) > ADJUSTMENT_ID_MAX_LEN:
            return codes.INVALID_AMOUNT, "adjustment_id must be 1..128 characters"
        code, reason = check_account(cmd.account_id)
        if code != codes.OK:
            return code, reason
        if cmd.asset not in self._scales:
            return codes.INVALID_AMOUNT, "unknown asset"
        if cmd.delta == 0:
            return codes.INVALID_AMOUNT, "delta must not be 0"
        if cmd.adjustment_id in self._adjustments:
            return codes.DUPLICATE_EVENT, "adjustment already applied"
        return codes.OK, ""

    # ---- queries (read-only) ------------------------------------------------------------

    def symbols(self) -> list[Symbol]:
        return list(self._markets)

    def grid(self, symbol: str) -> MarketGrid | None:
        m = self._markets.get(Symbol(symbol))
        return m.grid if m is not None else None

    def asset_scale(self, asset: str) -> int | None:
        return self._scales.get(Asset(asset))

    def seq(self, symbol: str) -> int:
        return self._markets[Symbol(symbol)].seq

    def mode(self, symbol: str) -> int:
        return self._markets[Symbol(symbol)].mode

    def get_order(self, symbol: str, order_no: int) -> OrderView | None:
        m = self._markets.get(Symbol(symbol))
        order = m.find(order_no) if m is not None else None
        return view_of(order) if order is not None else None

    def get_order_by_client(self, symbol: str, account_id: str,
                            client_order_id: str) -> OrderView | None:
        """An open order by its client id (client ids are reusable once an order closes)."""
        acct = self._accounts.get(AccountId(account_id))
        order = acct.cids.get(client_order_id) if acct is not None else None
        if order is None or order.sym != symbol:
            return None
        return view_of(order)

    def open_orders(self, account_id: str, symbol: str = "", limit: int = 0) -> list[OrderView]:
        """Open orders of an account, by (symbol, order number); ``limit`` 0 = all."""
        acct = self._accounts.get(AccountId(account_id))
        if acct is None:
            return []
        mine = sorted((o for o in acct.open_orders() if not symbol or o.sym == symbol),
                      key=lambda o: (o.sym, o.no))
        return [view_of(o) for o in (mine[:limit] if limit > 0 else mine)]

    def book(self, symbol: str, depth: int) -> BookDepth | None:
        m = self._markets.get(Symbol(symbol))
        if m is None:
            return None
        return BookDepth(m.symbol, m.seq, m.bids.depth(depth), m.asks.depth(depth))

    def balance(self, account_id: str, asset: str) -> BalanceView:
        acct = self._accounts.get(AccountId(account_id))
        bal = acct.balances.get(Asset(asset)) if acct is not None else None
        return BalanceView(bal.available, bal.hold) if bal is not None else BalanceView(0, 0)

    def totals(self) -> dict[Asset, int]:
        """available + hold of each asset over every account (conservation checks)."""
        out: dict[Asset, int] = dict.fromkeys(sorted(self._scales), 0)
        for acct in self._accounts.values():
            for asset, bal in acct.balances.items():
                out[asset] += bal.available + bal.hold
        return out

    # ---- state -------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        return state_codec.encode_engine(self)

    @classmethod
    def restore(cls, data: bytes) -> "Engine":
        return state_codec.decode_engine(data, cls)

    def state_hash(self) -> str:
        """Version-2 state hash (state_hash.py): "02" + 64 hex digits; cost follows the
        entities changed since the last call (see ``hash_dirty``), not the state size."""
        self.hash_dirty()
        markets: list[state_hash.MarketScalars] = [
            (m.symbol, m.seq, m.mode, m.last_ticks, m.trade_no, len(m.closed_ring),
             m.hash_orders) for m in self._markets.values()]
        return state_hash.combine(self._config_digest, self.account_seq, markets,
                                  accounts=self._hash_accounts,
                                  adjustments=self._hash_adjustments)

    def hash_dirty(self) -> None:
        """Fold the orders and accounts changed since the last call into the hash sums.

        ``state_hash`` calls it; a host may call it after each batch to spread the cost
        (about one digest per changed entity) instead of paying it at a checkpoint.
        """
        markets = self._markets
        m: MarketState | None = None
        for order in self._dirty_orders:
            order.dirty = False
            if order.hv < 0:
                continue  # evicted from the index since (MarketState.remember): gone
            if m is None or order.sym is not m.symbol:
                m = markets[Symbol(order.sym)]
            new = state_hash.order_digest(order, m.symbol_digest)
            # Masked at every step: the sum stays a machine-size int (mod 2**58 is all
            # the hash uses).
            m.hash_orders = (m.hash_orders + new - order.hv) & state_hash.MASK
            order.hv = new
        self._dirty_orders.clear()
        total = self._hash_accounts
        assets = self._asset_digests
        for acct in self._dirty_accounts:
            acct.dirty = False
            new = state_hash.account_digest(acct, assets)
            total = (total + new - acct.hv) & state_hash.MASK  # stays a machine-size int
            acct.hv = new
        self._hash_accounts = total
        self._dirty_accounts.clear()

    def unfolded(self) -> int:
        """Orders and accounts changed since the last fold (``hash_dirty``)."""
        return len(self._dirty_orders) + len(self._dirty_accounts)

    def rehash(self) -> None:
        """Recompute every digest and sum from scratch (after a restore)."""
        self.hash_dirty()
        for m in self._markets.values():
            m.hash_orders = 0
            for order in m.orders.values():
                order.hv = 0
                m.touch(order)
        self._hash_accounts = 0
        for acct in self._accounts.values():
            acct.hv = 0
            self._touch_account(acct)
        self._hash_adjustments = sum(state_hash.adjustment_digest(a)
                                     for a in self._adjustments) & state_hash.MASK
        self.hash_dirty()

    def hash_matches(self, recorded: str) -> bool:
        """Does ``recorded`` (a hash written by any version) match the current state?

        Version 1 (64 hex digits, older WALs and snapshots) was SHA-256 of the canonical
        snapshot: computed in full, O(state), only for such old records.
        """
        if len(recorded) == 64:
            return state_codec.state_hash_v1(self) == recorded
        return self.state_hash() == recorded

    def _touch_account(self, acct: Account) -> None:
        if not acct.dirty:
            acct.dirty = True
            self._dirty_accounts.append(acct)

    def check_invariants(self) -> None:
        check_engine(self)


def _order_number(order_id: str, prefix: str) -> int:
    """market.parse_order_id for this market's prefix ("<symbol>:"): the number after it
    (1..18 ASCII digits), else 0. Digit by digit in ``i64``: compiled, this is a C loop,
    where int(str) would allocate (18 digits < 2**63: no overflow)."""
    start: i64 = len(prefix)
    end: i64 = len(order_id)
    if end <= start or end - start > 18 or not order_id.startswith(prefix):
        return 0
    no: i64 = 0
    i: i64 = start
    while i < end:
        digit: i64 = ord(order_id[i]) - 48
        if digit < 0 or digit > 9:
            return 0
        no = no * 10 + digit
        i += 1
    return int(no)


def view_of(order: Order) -> OrderView:
    otype, tif, post_only, _ = unpack_kind(order.kind)
    return OrderView(order.no, Symbol(order.sym), order.acct.id, order.cid, order.side, otype,
                     tif, order.price, order.qty, order.qty - order.remaining, order.status,
                     post_only, order.no, order.updated_seq, order.hold)


def _reject(m: MarketState, cid: str, account_id: AccountId, code: int, reason: str,  # noqa: PLR0917
            order_no: int = 0) -> Result:
    """The rejection of a command of ``m`` (its client order id, "" for CancelAll)."""
    event = OrderRejected(cid, account_id, code, reason, order_no)
    return Result(code, reason, m.symbol, m.seq, [event], order_no, cid,
                         _REJECTED, 0, 0, 0, ())


def _reserve(g: MarketGrid, cmd: PlaceOrder, limit: bool, buy: bool) -> tuple[Asset, int, int]:
    """(asset, reserve per lot, total reserve) of an order (RISK-2)."""
    if not buy:
        return g.base, g.base_per_lot, cmd.qty_lots * g.base_per_lot
    if not limit and cmd.quote_budget:
        return g.quote, 0, cmd.quote_budget
    bound = cmd.price_ticks if limit else cmd.protection_ticks
    unit = buy_unit(bound, g.quote_per_tick_lot, g.max_fee_ppm)
    return g.quote, unit, cmd.qty_lots * unit


def _band(m: MarketState) -> tuple[int, int]:
    bps = m.grid.price_band_bps
    ref = m.last_ticks or m.grid.reference_ticks
    if not bps or not ref:
        return _NO_BAND
    # ceil(ref * (1 - bps/10^4)) as floor((x + 9_999) / 10^4): no negative operand,
    # which would take mypyc's slow (bignum) path
    return (ref * (10_000 - bps) + 9_999) // 10_000, ref * (10_000 + bps) // 10_000


def _market_cap(buy: bool, protection: int, low: int, high: int) -> int:
    if buy:
        cap = protection or PRICE_TICKS_MAX
        return min(cap, high) if high else cap
    return max(protection, low)


def _remainder_reason(stopped: bool, limit: bool) -> int:
    if stopped:
        return _CANCEL_STP
    return _CANCEL_IOC if limit else _CANCEL_MARKET


def _rest(m: MarketState, order: Order, buy: bool) -> BookDelta:
    """Put a new order that did not trade into its level; its BookDelta (BookSide.add +
    the indexes, inlined for the common case of a resting GTC limit)."""
    own = m.bids if buy else m.asks
    price = order.price
    levels = own.levels
    lvl = levels.get(price)
    if lvl is None:
        lvl = levels[price] = Level(own.side, price)
        insort(own.keys, price if buy else -price)
    lvl.orders.append(order)
    lvl.qty += order.remaining
    lvl.count += 1
    order.level = lvl
    m.orders[order.no] = order
    m.touch(order)
    acct = order.acct
    acct.link(order)
    if order.cid:
        acct.cids[order.cid] = order
    return one_level(own.side, price, lvl.qty, lvl.count)


def _delta(touched: list[Level]) -> BookDelta:
    if len(touched) == 1:
        lvl = touched[0]
        return one_level(lvl.side, lvl.price, lvl.qty, lvl.count)
    bids = sorted(((lv.price, lv.qty, lv.count) for lv in touched if lv.side == _BUY),
                  reverse=True)
    asks = sorted((lv.price, lv.qty, lv.count) for lv in touched if lv.side != _BUY)
    return BookDelta(tuple(bids), tuple(asks))


def _has_orders(m: MarketState, acct: Account | None) -> bool:
    if acct is None:
        return bool(m.open_orders())
    return any(o.sym == m.symbol for o in acct.open_orders())


def _cancel_many(m: MarketState, acct: Account | None, reason: int) -> list[Event]:
    """Cancel every open order of ``m`` (of ``acct`` if given), oldest first."""
    victims = m.open_orders() if acct is None else [o for o in acct.open_orders()
                                                        if o.sym == m.symbol]
    events: list[Event] = []
    touched: list[Level] = []
    for order in victims:
        lvl = cancel_resting(m, order, reason, events)
        if lvl not in touched:
            touched.append(lvl)
    if touched:
        events.append(_delta(touched))
    return events
