"""Full invariant check of an engine (ME-* and RISK-* in docs/INVARIANTS.md).

O(state): run by tests after every command, before writing a snapshot and after
loading one; not on the hot path.
"""

from typing import TYPE_CHECKING

from exchange_common.ids import AccountId, Asset
from exchange_core.domain import codes
from exchange_core.domain.book import BookSide
from exchange_core.domain.invariants import require
from exchange_core.domain.market_state import MarketState
from exchange_core.domain.order import Order

if TYPE_CHECKING:
    from exchange_core.domain.engine import Engine


def check_engine(engine: "Engine") -> None:
    holds: dict[tuple[AccountId, Asset], int] = {}
    open_by_account: dict[AccountId, set[int]] = {}
    for m in engine._markets.values():
        _check_market(m)
        g = m.grid
        for order in m.open_orders():
            asset = g.quote if order.side == codes.BUY else g.base
            key = (order.acct.id, asset)
            holds[key] = holds.get(key, 0) + order.hold
            open_by_account.setdefault(order.acct.id, set()).add(id(order))
    for acct in engine._accounts.values():
        listed = acct.open_orders()
        mine = {id(o) for o in listed}
        require(mine == open_by_account.get(acct.id, set()) and len(mine) == len(listed)
                == acct.open_count, "RISK-4", f"open-order list of {acct.id} differs from "
                "the books")
        for cid, order in acct.cids.items():
            require(order.cid == cid and id(order) in mine, "RISK-4",
                    f"client id index of {acct.id} is stale")
        for asset, no in acct.asset_no.items():
            require(acct.slots[no] is acct.balances.get(asset), "RISK-10",
                    f"balance slot {acct.id}/{asset} differs from the balance")
        for asset, bal in acct.balances.items():
            require(bal.available >= 0 and bal.hold >= 0, "RISK-3",
                    f"negative balance {acct.id}/{asset}")
            require(bal.hold == holds.get((acct.id, asset), 0), "RISK-1",
                    f"hold {acct.id}/{asset} = {bal.hold} != reserves "
                    f"{holds.get((acct.id, asset), 0)} of its open orders")
    for (account_id, asset), total in holds.items():
        owner = engine._accounts.get(account_id)
        entry = owner.balances.get(asset) if owner is not None else None
        require(entry is not None or total == 0, "RISK-1", f"hold without balance {account_id}")


def _check_market(m: MarketState) -> None:
    bid, ask = m.bids.best(), m.asks.best()
    require(not (bid and ask and bid >= ask), "ME-1", f"{m.symbol} crossed: {bid} >= {ask}")
    seen: set[int] = set()
    for side in (m.bids, m.asks):
        _check_side(m, side, seen)
    require(seen == {o.no for o in m.open_orders()}, "ME-3",
            f"{m.symbol}: order index differs from the book")
    closed = m.closed_orders()
    require(len(closed) == len(m.orders) - len(seen) and len(closed) <= max(m.retain, 0)
            and all(o.status > codes.STATUS_PARTIALLY_FILLED for o in closed), "ME-7",
            f"{m.symbol}: closed-order ring out of step with the index")


def _check_side(m: MarketState, side: BookSide, seen: set[int]) -> None:
    require(side.keys == sorted(side.keys) and len(side.keys) == len(side.levels), "ME-2",
            f"{m.symbol}: level keys unsorted or out of step")
    for key in side.keys:
        lvl = side.levels.get(key * side.sign)
        require(lvl is not None, "ME-2", f"{m.symbol}: key {key} without level")
        assert lvl is not None  # for the type checker; require() raised otherwise
        live = lvl.live()
        require(bool(live) and lvl.count == len(live), "ME-2", f"{m.symbol}: level count")
        require(lvl.qty == sum(o.remaining for o in live), "ME-2", f"{m.symbol}: level qty")
        require(lvl.dead == len(lvl.queued()) - len(live), "ME-2", f"{m.symbol}: dead count")
        for order in live:
            _check_order(m, order, side.side, lvl.price)
            require(order.level is lvl, "ME-3", f"order {order.no}: level reference stale")
            seen.add(order.no)


def _check_order(m: MarketState, order: Order, side: int, price: int) -> None:
    require(order.side == side and order.price == price, "ME-3",
            f"order {order.no} on the wrong level")
    require(0 < order.remaining <= order.qty, "ME-4", f"order {order.no} remaining")
    require(order.hold == order.remaining * order.unit, "RISK-2",
            f"order {order.no} hold {order.hold} != remaining x unit")
    want = codes.STATUS_NEW if order.remaining == order.qty else codes.STATUS_PARTIALLY_FILLED
    require(order.status == want, "ME-6", f"order {order.no} status {order.status}")
    require(m.orders.get(order.no) is order, "ME-3", f"order {order.no} not indexed")
