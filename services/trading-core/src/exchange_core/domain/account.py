"""Per-account risk state: balances per asset, open orders, rate-limit window."""

from exchange_common.ids import AccountId, Asset
from exchange_core.domain.digest import text_digest
from exchange_core.domain.order import Order


class Balance:
    """``available`` can be reserved or withdrawn; ``hold`` backs open orders."""

    __slots__ = ("available", "hold")

    def __init__(self, available: int = 0, hold: int = 0) -> None:
        self.available = available
        self.hold = hold


class Account:
    __slots__ = ("asset_no", "balances", "cids", "dirty", "first", "hv", "id", "id_digest",
                 "last", "open_count", "rl_count", "rl_window", "slots")

    def __init__(self, account_id: AccountId, asset_no: dict[Asset, int] | None = None) -> None:
        self.id = account_id
        self.id_digest = text_digest(account_id)  # for the state hash, computed once
        self.balances: dict[Asset, Balance] = {}
        # The same Balance objects by asset number (the engine numbers its assets in
        # asset order; ``asset_no`` is its table, shared by every account): the hot path
        # indexes a list instead of hashing an asset code (RISK-10: slots[asset_no[a]] is
        # balances[a] or None when absent).
        self.asset_no: dict[Asset, int] = asset_no if asset_no is not None else {}
        self.slots: list[Balance | None] = [None] * len(self.asset_no)
        # Open orders in the order they started resting: an intrusive doubly linked list
        # through Order.prev/next (O(1) link and unlink, no hashing, no table to grow).
        self.first: Order | None = None
        self.last: Order | None = None
        self.open_count = 0
        # client_order_id -> open order (unique per account among its open orders).
        self.cids: dict[str, Order] = {}
        self.rl_window = -1
        self.rl_count = 0
        self.hv = 0  # digest in the engine's state-hash sum (state_hash.py)
        self.dirty = False  # waits in the dirty list

    def balance(self, asset: Asset) -> Balance:
        bal = self.balances.get(asset)
        if bal is None:
            bal = self.balances[asset] = Balance()
            no = self.asset_no.get(asset)
            if no is not None:
                self.slots[no] = bal
        return bal

    def slot(self, no: int, asset: Asset) -> Balance:
        """The balance of ``asset``, whose number is ``no`` (created at zero if absent)."""
        bal = self.slots[no]
        if bal is None:
            bal = self.balance(asset)
        return bal

    def link(self, order: Order) -> None:
        """``order`` starts resting: append it to the open list."""
        last = self.last
        order.prev = last
        order.next = None
        if last is None:
            self.first = order
        else:
            last.next = order
        self.last = order
        self.open_count += 1

    def unlink(self, order: Order) -> None:
        """``order`` (in the open list) closes: take it out."""
        prev, nxt = order.prev, order.next
        if prev is None:
            self.first = nxt
        else:
            prev.next = nxt
        if nxt is None:
            self.last = prev
        else:
            nxt.prev = prev
        order.prev = order.next = None
        self.open_count -= 1

    def open_orders(self) -> list[Order]:
        """The open orders, in the order they started resting."""
        out = []
        order = self.first
        while order is not None:
            out.append(order)
            order = order.next
        return out

    def admit(self, ts_ns: int, window_ns: int, limit: int) -> bool:
        """Count one command in the fixed window holding ``ts_ns``; False when over."""
        if limit <= 0:
            return True
        window = ts_ns // window_ns
        if window > self.rl_window:
            self.rl_window = window
            self.rl_count = 0
        if self.rl_count >= limit:
            return False
        self.rl_count += 1
        return True
