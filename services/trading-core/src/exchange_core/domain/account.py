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
    __slots__ = ("balances", "cids", "dirty", "hv", "id", "id_digest", "open", "rl_count",
                 "rl_window")

    def __init__(self, account_id: AccountId) -> None:
        self.id = account_id
        self.id_digest = text_digest(account_id)  # for the state hash, computed once
        self.balances: dict[Asset, Balance] = {}
        # Open orders in the order they started resting (dict as an ordered set).
        self.open: dict[Order, None] = {}
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
        return bal

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
