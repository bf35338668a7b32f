"""Runtime state of one market: its book, order indexes, sequence and trade counter."""

from exchange_core.domain import codes
from exchange_core.domain.account import Account, Balance
from exchange_core.domain.book import BookSide
from exchange_core.domain.market import MarketGrid
from exchange_core.domain.order import Order
from exchange_core.domain.state_hash import MASK


class MarketState:
    __slots__ = (
        "asks",
        "band_high",
        "band_low",
        "band_ref",
        "base_no",
        "bids",
        "closed_next",
        "closed_ring",
        "dirty_accounts",
        "dirty_orders",
        "fee_account",
        "fee_balance",
        "grid",
        "hash_orders",
        "id_prefix",
        "last_ticks",
        "mode",
        "orders",
        "quote_no",
        "retain",
        "seq",
        "symbol",
        "symbol_digest",
        "trade_no",
    )

    def __init__(self, grid: MarketGrid, retain: int) -> None:
        self.grid = grid
        self.symbol = grid.symbol
        self.symbol_digest = 0  # state_hash.text_digest(symbol), set by the engine
        self.id_prefix = f"{grid.symbol}:"  # of public order ids (market.format_order_id)
        self.bids = BookSide(codes.BUY)
        self.asks = BookSide(codes.SELL)
        # Every open order and the ``retain`` most recently closed ones, by number: one
        # index, so closing an order costs no dict operation (eviction costs one).
        self.orders: dict[int, Order] = {}
        # The closed orders still indexed, a ring: full once it holds ``retain``, and
        # then closed_ring[closed_next] is the oldest (next to evict).
        self.closed_ring: list[Order] = []
        self.closed_next = 0
        self.retain = retain
        self.seq = 0
        self.mode = grid.spec.mode
        self.last_ticks = 0
        self.trade_no = 0
        # Price band limits, cached for the reference price they were computed from.
        self.band_ref = -1
        self.band_low = 0
        self.band_high = 0
        self.fee_balance = Balance()  # replaced by the engine with the fee account's
        self.fee_account: Account | None = None  # set by the engine
        # The engine's numbers of the base and quote assets (Account.slots).
        self.base_no = 0
        self.quote_no = 0
        # Entities changed since the engine last folded them into its state hash; the
        # engine shares one pair of lists between all its markets.
        self.dirty_orders: list[Order] = []
        self.hash_orders = 0  # sum of the digests of the indexed orders (state_hash.py)
        self.dirty_accounts: list[Account] = []

    def reference_ticks(self) -> int:
        return self.last_ticks or self.grid.reference_ticks

    def side(self, side: int) -> BookSide:
        return self.bids if side == codes.BUY else self.asks

    def remember(self, order: Order) -> None:
        """An indexed order has just closed: keep it for queries, evicting the oldest
        closed one beyond ``retain`` (the order stays in ``orders`` until evicted)."""
        ring = self.closed_ring
        retain = self.retain
        if len(ring) < retain:
            ring.append(order)
            return
        if retain <= 0:
            del self.orders[order.no]
            # leaves the state: its digest leaves the sum (mod 2**58)
            self.hash_orders = (self.hash_orders - order.hv) & MASK
            order.hv = -1
            return
        i = self.closed_next
        evicted = ring[i]
        del self.orders[evicted.no]
        self.hash_orders = (self.hash_orders - evicted.hv) & MASK
        evicted.hv = -1
        ring[i] = order
        i += 1
        self.closed_next = i if i < retain else 0

    def touch(self, order: Order) -> None:
        """The order changed (or entered or left the index): re-digest it later."""
        if not order.dirty:
            order.dirty = True
            self.dirty_orders.append(order)

    def touch_account(self, acct: Account) -> None:
        if not acct.dirty:
            acct.dirty = True
            self.dirty_accounts.append(acct)

    def find(self, order_no: int) -> Order | None:
        return self.orders.get(order_no)

    def open_orders(self) -> list[Order]:
        """Open orders by number (a scan of the index: admin and check paths only)."""
        return [o for o in self.orders.values() if o.status <= codes.STATUS_PARTIALLY_FILLED]

    def closed_orders(self) -> list[Order]:
        """Retained closed orders, oldest closed first."""
        ring, i = self.closed_ring, self.closed_next
        return ring[i:] + ring[:i]
