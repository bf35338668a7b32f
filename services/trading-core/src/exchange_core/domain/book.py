"""The fast order book: price levels in a dict keyed by int ticks + one sorted key list.

Per side, ``keys`` is sorted ascending with the best price LAST (bids: key = price,
asks: key = -price), so taking the best level is ``keys[-1]`` and dropping it is
``keys.pop()``. A level is a FIFO of orders with lazy deletion: a list read from
``head`` (taking the front is ``head += 1``; the consumed prefix is cut off once it is
half the list, amortized O(1)). A cancel marks the order closed (O(1)), adjusts the
level totals, and the dead entry is skipped when it reaches the front; a level compacts
itself when dead entries outnumber live ones. (A list and an index rather than a deque:
the mypyc build turns list indexing into C, a deque stays a Python method call.)
"""

from bisect import bisect_left, insort
from typing import Final

from exchange_core.domain import codes
from exchange_core.domain.events import Level as LevelTuple
from exchange_core.domain.invariants import require
from exchange_core.domain.order import Order

COMPACT_MIN_DEAD: Final = 16
TRIM_MIN_HEAD: Final = 64


class Level:
    __slots__ = ("count", "dead", "head", "orders", "price", "qty", "side")

    def __init__(self, side: int, price: int) -> None:
        self.side = side
        self.price = price
        self.qty = 0  # live lots
        self.count = 0  # live orders
        self.dead = 0  # closed orders still queued (at or after head)
        self.orders: list[Order] = []  # the queue is orders[head:]
        self.head = 0

    def as_tuple(self) -> LevelTuple:
        return (self.price, self.qty, self.count)

    def queued(self) -> list[Order]:
        """The queue, front first: live orders and not yet skipped dead ones."""
        return self.orders[self.head:]

    def live(self) -> list[Order]:
        return [o for o in self.orders[self.head:]
                if o.status <= codes.STATUS_PARTIALLY_FILLED]

    def pop_front(self) -> None:
        """Drop the front order of the queue (the caller fixes count/dead/qty)."""
        head = self.head + 1
        if head >= TRIM_MIN_HEAD and head + head >= len(self.orders):
            del self.orders[:head]
            head = 0
        self.head = head


class BookSide:
    __slots__ = ("keys", "levels", "side", "sign")

    def __init__(self, side: int) -> None:
        self.side = side
        self.sign = 1 if side == codes.BUY else -1
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []

    def best(self) -> int:
        """Best price in ticks, 0 when the side is empty."""
        keys = self.keys
        if not keys:
            return 0
        return keys[-1] if self.sign > 0 else -keys[-1]

    def add(self, order: Order) -> Level:
        price = order.price
        lvl = self.levels.get(price)
        if lvl is None:
            lvl = self.levels[price] = Level(self.side, price)
            insort(self.keys, price if self.sign > 0 else -price)
        lvl.orders.append(order)
        lvl.qty += order.remaining
        lvl.count += 1
        order.level = lvl
        return lvl

    def drop_level(self, lvl: Level) -> None:
        """Remove an emptied level (count 0) from the side."""
        del self.levels[lvl.price]
        keys = self.keys
        key = lvl.price if self.sign > 0 else -lvl.price
        if keys and keys[-1] == key:
            keys.pop()
        else:
            i = bisect_left(keys, key)
            require(i < len(keys) and keys[i] == key, "ME-3", "level key missing")
            del keys[i]

    def remove(self, order: Order) -> Level:
        """Take a still-open order out of its level (status is set by the caller after)."""
        lvl = order.level
        if lvl is None:
            lvl = self.levels[order.price]
        order.level = None
        lvl.qty -= order.remaining
        lvl.count -= 1
        if lvl.count == 0:
            self.drop_level(lvl)
            return lvl
        lvl.dead += 1
        return lvl

    def compact(self, lvl: Level) -> None:
        """Drop dead entries once they outnumber live ones (amortized O(1) per cancel)."""
        if lvl.dead > COMPACT_MIN_DEAD and lvl.dead > lvl.count:
            lvl.orders = lvl.live()
            lvl.head = 0
            lvl.dead = 0

    def depth(self, n: int) -> tuple[LevelTuple, ...]:
        """Top ``n`` levels, best first."""
        keys = self.keys
        levels = self.levels
        sign = self.sign
        out = []
        for key in reversed(keys[-n:] if n > 0 else keys):
            out.append(levels[key if sign > 0 else -key].as_tuple())
        return tuple(out)

    def iter_levels(self) -> list[Level]:
        """All levels best first (for snapshots and invariant checks)."""
        sign = self.sign
        return [self.levels[k if sign > 0 else -k] for k in reversed(self.keys)]
