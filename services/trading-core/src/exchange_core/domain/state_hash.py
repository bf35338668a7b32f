"""State hash, version 2: canonical, incremental, the same for every replica (ME-8).

The state is a multiset of entities plus a few scalars:

- every indexed order (open, or closed and still retained for queries), with its symbol;
- every account with something to keep (non-zero balances or a rate-limit count);
- every applied adjustment id;
- per market: symbol, seq, mode, last trade price, trade counter, retained closed count;
  the engine's account-level seq and its configuration.

Each entity has a 56-bit digest: Python's ``hash`` of a tuple of integers (strings enter
as a 56-bit BLAKE2b of their UTF-8, computed once per account, asset and symbol). Integer
and tuple hashing do not depend on PYTHONHASHSEED; their algorithm (CPython >= 3.8, 64-bit)
is pinned by a golden test, so an interpreter that hashed differently fails the suite
rather than every recorded checkpoint. The hash is SHA-256 over the scalars and the three
digest sums mod 2**56, prefixed with the version ("02"). A sum changes by ``new - old``
when one entity changes, so the engine keeps the sums up to date by re-digesting only the
entities a command touched (``Engine.hash_dirty``, ~0.3 us each): the cost follows the
work done, not the size of the book.

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
MASK: Final = (1 << 56) - 1
_ORDER: Final = 1
_ACCOUNT: Final = 2
_ADJUSTMENT: Final = 3
_texts: dict[str, int] = {}  # digests of symbols and assets (few: from the config)


def text_digest(text: str) -> int:
    """A stable 56-bit digest of a string (BLAKE2b; str hashing is randomized per process)."""
    raw = hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).digest()
    return int.from_bytes(raw, "little")


def _known_text(text: str) -> int:
    digest = _texts.get(text)
    if digest is None:
        digest = _texts[text] = text_digest(text)
    return digest


def order_digest(order: Order, symbol_digest: int) -> int:
    """Digest of an indexed order (the fields of state_codec.order_record, and its symbol,
    given as ``text_digest(order.sym)``)."""
    cid = order.cid
    return hash((_ORDER, symbol_digest, order.no, order.acct.id_digest,
                 text_digest(cid) if cid else 0, order.side, order.kind, order.price,
                 order.qty, order.remaining, order.hold, order.unit, order.status,
                 order.updated_seq)) & MASK


def order_record_digest(symbol: str, record: list[Any]) -> int:
    no, account_id, cid, side, kind, price, qty, remaining, hold, unit, status, upd = record
    return hash((_ORDER, _known_text(symbol), no, text_digest(account_id),
                 text_digest(cid) if cid else 0, side, kind, price, qty, remaining, hold,
                 unit, status, upd)) & MASK


def account_record_digest(record: list[Any] | None) -> int:
    """Digest of state_codec.account_state's record; 0 for an account with nothing."""
    if record is None:
        return 0
    account_id, balances, rl_window, rl_count = record
    bals = tuple((_known_text(a), av, h) for a, av, h in balances)
    return hash((_ACCOUNT, text_digest(account_id), bals, rl_window, rl_count)) & MASK


def account_digest(acct: Account, asset_digests: dict[Asset, int]) -> int:
    """Digest of an account (as account_record_digest of its record); ``asset_digests``
    maps each asset code to its ``text_digest``."""
    bals = [(a, b.available, b.hold) for a, b in acct.balances.items()
            if b.available or b.hold]
    if not bals and not acct.rl_count:
        return 0
    if len(bals) > 1:
        bals.sort()
    return hash((_ACCOUNT, acct.id_digest,
                 tuple([(asset_digests[a], av, h) for a, av, h in bals]),
                 acct.rl_window if acct.rl_count else -1, acct.rl_count)) & MASK


def adjustment_digest(adjustment_id: str) -> int:
    return hash((_ADJUSTMENT, text_digest(adjustment_id))) & MASK


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
