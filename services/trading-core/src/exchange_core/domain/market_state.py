"""Runtime state of one market: its book, order indexes, sequence and trade counter."""

from collections import deque

from exchange_core.domain import codes
from exchange_core.domain.account import Balance
from exchange_core.domain.book import BookSide
from exchange_core.domain.market import MarketGrid
from exchange_core.domain.order import Order


class MarketState:
    __slots__ = (
        "asks",
        "band_high",
        "band_low",
        "band_ref",
        "bids",
        "closed",
        "closed_fifo",
        "fee_balance",
        "grid",
        "id_prefix",
        "last_ticks",
        "mode",
        "orders",
        "retain",
        "seq",
        "symbol",
        "trade_no",
    )

    def __init__(self, grid: MarketGrid, retain: int) -> None:
        self.grid = grid
        self.symbol = grid.symbol
        self.id_prefix = f"{grid.symbol}:"  # of public order ids (market.format_order_id)
        self.bids = BookSide(codes.BUY)
        self.asks = BookSide(codes.SELL)
        self.orders: dict[int, Order] = {}  # open orders by number, in creation order
        self.closed: dict[int, Order] = {}  # recently finished orders, bounded by retain
        self.closed_fifo: deque[int] = deque()
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

    def reference_ticks(self) -> int:
        return self.last_ticks or self.grid.reference_ticks

    def side(self, side: int) -> BookSide:
        return self.bids if side == codes.BUY else self.asks

    def remember(self, order: Order) -> None:
        """Keep a finished order for queries; evict the oldest beyond ``retain``."""
        if self.retain <= 0:
            return
        self.closed[order.no] = order
        fifo = self.closed_fifo
        fifo.append(order.no)
        if len(fifo) > self.retain:
            del self.closed[fifo.popleft()]

    def find(self, order_no: int) -> Order | None:
        order = self.orders.get(order_no)
        return order if order is not None else self.closed.get(order_no)
