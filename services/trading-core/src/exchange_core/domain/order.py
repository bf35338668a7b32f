"""An order inside the engine: a small __slots__ record, integers only."""

from typing import TYPE_CHECKING, Final

from exchange_core.domain import codes

if TYPE_CHECKING:
    from exchange_core.domain.account import Account
    from exchange_core.domain.book import Level

# ``kind`` packs the fields only views and snapshots need (a small int, no allocation).
_TIF_SHIFT: Final = 2
_POST_SHIFT: Final = 4
_STP_SHIFT: Final = 5


def pack_kind(order_type: int, tif: int, post_only: bool, stp: int) -> int:
    return order_type | tif << _TIF_SHIFT | int(post_only) << _POST_SHIFT | stp << _STP_SHIFT


def unpack_kind(kind: int) -> tuple[int, int, bool, int]:
    """(order_type, time_in_force, post_only, stp)."""
    return kind & 3, kind >> _TIF_SHIFT & 3, bool(kind >> _POST_SHIFT & 1), kind >> _STP_SHIFT


class Order:
    """``hold``: what the order still reserves, in minor units of its reserved asset
    (quote for a buy, base for a sell). ``unit``: the reserve per lot (``hold ==
    remaining * unit``), or 0 for a MARKET buy bounded by a quote budget."""

    __slots__ = (
        "acct",
        "cid",
        "dirty",
        "hold",
        "hv",
        "kind",
        "level",
        "next",
        "no",
        "prev",
        "price",
        "qty",
        "remaining",
        "side",
        "status",
        "sym",
        "unit",
        "updated_seq",
    )

    def __init__(self, no: int, sym: str, acct: "Account", cid: str, side: int, kind: int,  # noqa: PLR0917
                 price: int, qty: int, hold: int, unit: int) -> None:
        self.no = no
        self.sym = sym
        self.acct = acct
        self.cid = cid
        self.side = side
        self.kind = kind
        self.price = price
        self.qty = qty
        self.remaining = qty
        self.hold = hold
        self.unit = unit
        self.status = codes.STATUS_NEW
        self.updated_seq = no
        # Incremental state hash (state_hash.py): this order's digest in the engine's sum,
        # and whether it waits in the dirty list to be re-digested.
        self.hv = 0
        self.dirty = False
        # Neighbours in the account's open-order list while open (Account.link).
        self.prev: Order | None = None
        self.next: Order | None = None
        # The price level it rests in, while it rests (BookSide.add): a cancel finds it
        # without a lookup by price.
        self.level: Level | None = None

    @property
    def is_open(self) -> bool:
        return self.status <= codes.STATUS_PARTIALLY_FILLED
