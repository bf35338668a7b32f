"""The fast order book: price levels in a dict keyed by int ticks + one sorted key list.

Per side, ``keys`` is sorted ascending with the best price LAST (bids: key = price,
asks: key = -price), so taking the best level is ``keys[-1]`` and dropping it is
``keys.pop()``. A level is a FIFO deque of orders with lazy deletion: a cancel marks
the order closed (O(1)), adjusts the level totals, and the dead entry is skipped when
it reaches the front; a level compacts itself when dead entries outnumber live ones.
"""

from bisect import bisect_left, insort
from collections import deque
from typing import Final

from exchange_core.domain import codes
from exchange_core.domain.events import Level as LevelTuple
from exchange_core.domain.invariants import require
from exchange_core.domain.order import Order

COMPACT_MIN_DEAD: Final = 16


class Level:
    __slots__ = ("count", "dead", "orders", "price", "qty", "side")

    def __init__(self, side: int, price: int) -> None:
        self.side = side
        self.price = price
        self.qty = 0  # live lots
        self.count = 0  # live orders
        self.dead = 0  # closed orders still in the deque
        self.orders: deque[Order] = deque()

    def as_tuple(self) -> LevelTuple:
        return (self.price, self.qty, self.count)

    def live(self) -> list[Order]:
        return [o for o in self.orders if o.status <= codes.STATUS_PARTIALLY_FILLED]


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
        return keys[-1] * self.sign if keys else 0

    def add(self, order: Order) -> Level:
        price = order.price
        lvl = self.levels.get(price)
        if lvl is None:
            lvl = self.levels[price] = Level(self.side, price)
            insort(self.keys, price * self.sign)
        lvl.orders.append(order)
        lvl.qty += order.remaining
        lvl.count += 1
        return lvl

    def drop_level(self, lvl: Level) -> None:
        """Remove an emptied level (count 0) from the side."""
        del self.levels[lvl.price]
        keys = self.keys
        key = lvl.price * self.sign
        if keys and keys[-1] == key:
            keys.pop()
        else:
            i = bisect_left(keys, key)
            require(i < len(keys) and keys[i] == key, "ME-3", "level key missing")
            del keys[i]

    def remove(self, order: Order) -> Level:
        """Take a still-open order out of its level (status is set by the caller after)."""
        lvl = self.levels[order.price]
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
            lvl.orders = deque(lvl.live())
            lvl.dead = 0

    def depth(self, n: int) -> tuple[LevelTuple, ...]:
        """Top ``n`` levels, best first."""
        keys = self.keys
        levels = self.levels
        sign = self.sign
        out = []
        for key in reversed(keys[-n:] if n > 0 else keys):
            out.append(levels[key * sign].as_tuple())
        return tuple(out)

    def iter_levels(self) -> list[Level]:
        """All levels best first (for snapshots and invariant checks)."""
        return [self.levels[k * self.sign] for k in reversed(self.keys)]
