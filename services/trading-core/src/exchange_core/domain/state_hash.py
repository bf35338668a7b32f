"""State hash, version 2: canonical, incremental, the same for every replica (ME-8).

The state is a multiset of entities plus a few scalars:

- every indexed order (open, or closed and still retained for queries), with its symbol;
- every account with something to keep (non-zero balances or a rate-limit count);
- every applied adjustment id;
- per market: symbol, seq, mode, last trade price, trade counter, retained closed count;
  the engine's account-level seq and its configuration.

Each entity has a 58-bit digest: two polynomial hashes of its fields, modulo two primes
below 2**29 (so every product stays a small machine integer in the compiled build: no
allocation, ~0.1-0.2 us per entity). Account ids, symbols and assets enter as a 56-bit
BLAKE2b of their UTF-8, computed once each; client order ids and adjustment ids enter
character by character. The hash is SHA-256 over the scalars and the three digest sums
mod 2**58, prefixed with the version ("02"). A sum changes by ``new - old`` when one
entity changes, so the engine keeps the sums up to date by re-digesting only the
entities changed since the last fold (``Engine.hash_dirty``): the cost follows the work
done, not the size of the book. Golden tests pin the digests.

The digests detect divergence between replicas (bugs, corruption); they are not a
defence against someone crafting a colliding state.

``hash_of_state`` computes the same value from a canonical state (state_codec), i.e. from
scratch: the specification the incremental sums are tested against, and what the naive
reference engine's state hashes to. Book priority needs no digest of its own: a level's
FIFO is its orders by number (orders rest only when placed). The eviction order of the
retained closed orders is not hashed (it would make each eviction O(retain)); a
difference there shows at the first checkpoint after the next eviction.
"""

import hashlib
from typing import Any, Final

from exchange_common.ids import Asset
from exchange_core.domain.account import Account
from exchange_core.domain.order import Order

VERSION_PREFIX: Final = "02"
DIGEST_BYTES: Final = 7
MASK: Final = (1 << 58) - 1
# Two lanes: x -> (x * K + v) mod P. P < 2**29 and K < P keep x * K < 2**58.
P1: Final = 536_870_909
P2: Final = 536_870_879
K1: Final = 387_420_489
K2: Final = 282_475_249
_ORDER: Final = 1
_ACCOUNT: Final = 2
_ADJUSTMENT: Final = 3


def text_digest(text: str) -> int:
    """A stable 56-bit digest of a string (BLAKE2b; str hashing is randomized per process)."""
    raw = hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).digest()
    return int.from_bytes(raw, "little")


def _mix(a: int, b: int, v: int) -> tuple[int, int]:
    return (a * K1 + v % P1) % P1, (b * K2 + v % P2) % P2


def _mix_text(a: int, b: int, text: str) -> tuple[int, int]:
    a, b = _mix(a, b, len(text))
    for ch in text:
        a, b = _mix(a, b, ord(ch))
    return a, b


def order_digest(order: Order, symbol_digest: int) -> int:
    """Digest of an indexed order (the fields of state_codec.order_record, and its symbol,
    given as ``text_digest(order.sym)``)."""
    a, b = _mix(_ORDER, _ORDER, symbol_digest)
    a, b = _mix(a, b, order.no)
    a, b = _mix(a, b, order.acct.id_digest)
    a, b = _mix_text(a, b, order.cid)
    a, b = _mix(a, b, order.side)
    a, b = _mix(a, b, order.kind)
    a, b = _mix(a, b, order.price)
    a, b = _mix(a, b, order.qty)
    a, b = _mix(a, b, order.remaining)
    a, b = _mix(a, b, order.hold)
    a, b = _mix(a, b, order.unit)
    a, b = _mix(a, b, order.status)
    a, b = _mix(a, b, order.updated_seq)
    return a * P2 + b


def order_record_digest(symbol: str, record: list[Any]) -> int:
    no, account_id, cid, side, kind, price, qty, remaining, hold, unit, status, upd = record
    a, b = _mix(_ORDER, _ORDER, text_digest(symbol))
    a, b = _mix(a, b, no)
    a, b = _mix(a, b, text_digest(account_id))
    a, b = _mix_text(a, b, cid)
    for v in (side, kind, price, qty, remaining, hold, unit, status, upd):
        a, b = _mix(a, b, v)
    return a * P2 + b


def _account_fields(id_digest: int, balances: list[tuple[int, int, int]], rl_window: int,
                    rl_count: int) -> int:
    a, b = _mix(_ACCOUNT, _ACCOUNT, id_digest)
    a, b = _mix(a, b, len(balances))
    for asset, available, hold in balances:
        a, b = _mix(a, b, asset)
        a, b = _mix(a, b, available)
        a, b = _mix(a, b, hold)
    a, b = _mix(a, b, rl_window)
    a, b = _mix(a, b, rl_count)
    return a * P2 + b


def account_record_digest(record: list[Any] | None) -> int:
    """Digest of state_codec.account_state's record; 0 for an account with nothing."""
    if record is None:
        return 0
    account_id, balances, rl_window, rl_count = record
    bals = [(text_digest(asset), av, h) for asset, av, h in balances]
    return _account_fields(text_digest(account_id), bals, rl_window, rl_count)


def account_digest(acct: Account, asset_digests: dict[Asset, int]) -> int:
    """Digest of an account (as account_record_digest of its record); ``asset_digests``
    maps each asset code to its ``text_digest``."""
    bals = [(a, b.available, b.hold) for a, b in acct.balances.items()
            if b.available or b.hold]
    if not bals and not acct.rl_count:
        return 0
    if len(bals) > 1:
        bals.sort()
    return _account_fields(acct.id_digest, [(asset_digests[a], av, h) for a, av, h in bals],
                           acct.rl_window if acct.rl_count else -1, acct.rl_count)


def adjustment_digest(adjustment_id: str) -> int:
    a, b = _mix_text(_ADJUSTMENT, _ADJUSTMENT, adjustment_id)
    return a * P2 + b


def config_digest(config_bytes: bytes) -> str:
    return hashlib.sha256(config_bytes).hexdigest()


MarketScalars = tuple[str, int, int, int, int, int]  # symbol seq mode last trades closed


def combine(config: str, account_seq: int, markets: list[MarketScalars], *, orders: int,
            accounts: int, adjustments: int) -> str:
    """The version-2 hash of the scalars and the three digest sums."""
    h = hashlib.sha256(b"exchange-core/state/v2\n")
    h.update(f"{config}\n{account_seq}\n".encode())
    for symbol, seq, mode, last, trades, closed in markets:
        h.update(f"{symbol} {seq} {mode} {last} {trades} {closed}\n".encode())
    h.update(f"{orders & MASK} {accounts & MASK} {adjustments & MASK}\n".encode())
    return VERSION_PREFIX + h.hexdigest()


def hash_of_state(state: dict[str, Any], config_bytes: bytes) -> str:
    """The version-2 hash of a canonical state (state_codec.canonical_state), from scratch."""
    orders = 0
    markets: list[MarketScalars] = []
    for m in state["markets"]:
        symbol = m["symbol"]
        for side in ("bids", "asks"):
            for _price, records in m[side]:
                for rec in records:
                    orders += order_record_digest(symbol, rec)
        for rec in m["closed"]:
            orders += order_record_digest(symbol, rec)
        markets.append((symbol, m["seq"], m["mode"], m["last"], m["trades"], len(m["closed"])))
    accounts = sum(account_record_digest(rec) for rec in state["accounts"])
    adjustments = sum(adjustment_digest(a) for a in state["adjustments"])
    return combine(config_digest(config_bytes), state["account_seq"], markets, orders=orders,
                   accounts=accounts, adjustments=adjustments)
