"""State hash, version 2: canonical, incremental, the same for every replica (ME-8).

The state is a multiset of entities plus a few scalars:

- every indexed order (open, or closed and still retained for queries), with its symbol;
- every account with something to keep (non-zero balances or a rate-limit count);
- every applied adjustment id;
- per market: symbol, seq, mode, last trade price, trade counter, retained closed count
  and the sum of its orders' digests; the engine's account-level seq and configuration.

Each entity has a 58-bit digest: two polynomial hashes of its fields, modulo two primes
below 2**29 (so every product stays a small machine integer in the compiled build: no
allocation, ~0.1-0.2 us per entity). Account ids, symbols and assets enter as a 56-bit
BLAKE2b of their UTF-8, computed once each; client order ids and adjustment ids enter
character by character. The hash is SHA-256 over the scalars and the digest sums mod
2**58, prefixed with the version ("02"). A sum changes by ``new - old`` when one
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

from mypy_extensions import i64

from exchange_core.domain.account import Account
from exchange_core.domain.digest import text_digest
from exchange_core.domain.order import Order

VERSION_PREFIX: Final = "02"
MASK: Final = (1 << 58) - 1
# Two lanes: x -> (x * K + v) mod P. P < 2**29 and K < P keep x * K < 2**58.
P1: Final = 536_870_909
P2: Final = 536_870_879
K1: Final = 387_420_489
K2: Final = 282_475_249


# One step of each lane, (x * K + v) mod P for 0 <= x < P and 0 <= v < 2**62, without a
# division (a 64-bit division is tens of cycles; these are shifts, masks and small
# multiplies): P1 = 2**29 - 3 and P2 = 2**29 - 33, so 2**29 = c (mod P) and
# y = (y & M29) + c * (y >> 29) (mod P). Two folds bring y = x * K + v (< 2**63) below
# 2**29 + 2**17 (< 2 * P), one subtraction finishes. Equal to ``(x * K + v) % P`` (tests
# check it); the compiled build inlines them (ADR 0006).
_M29: Final = (1 << 29) - 1
_C1: Final = (1 << 29) - P1
_C2: Final = (1 << 29) - P2


def _step1(x: i64, v: i64) -> i64:
    y = x * K1 + v
    y = (y & _M29) + _C1 * (y >> 29)
    y = (y & _M29) + _C1 * (y >> 29)
    return y - P1 if y >= P1 else y


def _step2(x: i64, v: i64) -> i64:
    y = x * K2 + v
    y = (y & _M29) + _C2 * (y >> 29)
    y = (y & _M29) + _C2 * (y >> 29)
    return y - P2 if y >= P2 else y


def _mix(a: int, b: int, v: int) -> tuple[int, int]:
    return (a * K1 + v) % P1, (b * K2 + v) % P2


def _mix_text(a: int, b: int, text: str) -> tuple[int, int]:
    a, b = _mix(a, b, len(text))
    for ch in text:
        a, b = _mix(a, b, ord(ch))
    return a, b


def _flags(side: int, kind: int, status: int) -> int:
    return side | kind << 2 | status << 12


def order_digest(order: Order, symbol_digest: int) -> int:
    """Digest of an indexed order: the fields of state_codec.order_record but ``hold``
    (derived: remaining x unit while open, 0 once closed; RISK-2, checked on restore) and
    its symbol (as ``text_digest(order.sym)``). This runs for every order changed between
    two hashes, so the common case is written out in ``i64`` (the compiled build does C
    arithmetic: every value < 2**62, every product < 2**58, no overflow, and the same
    results as Python ints); client ids and huge values take ``_order_fields``."""
    no = order.no
    acct = order.acct.id_digest
    price = order.price
    qty = order.qty
    remaining = order.remaining
    unit = order.unit
    upd = order.updated_seq
    flags = order.side | order.kind << 2 | order.status << 12
    # (">> 62" rather than ">= 1 << 62": 2**62 does not fit mypyc's tagged int, so that
    # comparison would box its left side on every call; negatives take the slow path too.)
    if order.cid or (symbol_digest | no | acct | price | qty | remaining | unit | upd) >> 62:
        return _order_fields(symbol_digest, no, acct, order.cid, flags, price, qty,
                             remaining, unit, upd)
    # _mix(0, 0, symbol_digest), then each field in _order_fields' order
    a: i64 = _step1(0, symbol_digest)
    b: i64 = _step2(0, symbol_digest)
    a, b = _step1(a, no), _step2(b, no)
    a, b = _step1(a, acct), _step2(b, acct)
    a, b = _step1(a, 0), _step2(b, 0)  # the empty client id: _mix_text mixes its length, 0
    a, b = _step1(a, flags), _step2(b, flags)
    a, b = _step1(a, price), _step2(b, price)
    a, b = _step1(a, qty), _step2(b, qty)
    a, b = _step1(a, remaining), _step2(b, remaining)
    a, b = _step1(a, unit), _step2(b, unit)
    a, b = _step1(a, upd), _step2(b, upd)
    return int(a) * P2 + int(b)


def _order_fields(symbol_digest: int, no: int, acct: int, cid: str, flags: int,  # noqa: PLR0917
                  price: int, qty: int, remaining: int, unit: int, upd: int) -> int:
    """The order digest, defined step by step (any value size)."""
    a, b = _mix(0, 0, symbol_digest)
    a, b = _mix(a, b, no)
    a, b = _mix(a, b, acct)
    a, b = _mix_text(a, b, cid)
    for v in (flags, price, qty, remaining, unit, upd):
        a, b = _mix(a, b, v)
    return a * P2 + b


def order_record_digest(symbol: str, record: list[Any]) -> int:
    """order_digest of a canonical order record (the specification, step by step)."""
    no, account_id, cid, side, kind, price, qty, remaining, _hold, unit, status, upd = record
    return _order_fields(text_digest(symbol), no, text_digest(account_id), cid,
                         _flags(side, kind, status), price, qty, remaining, unit, upd)


def _account_fields(id_digest: int, balances: list[tuple[int, int, int]], rl_window: int,
                    rl_count: int) -> int:
    """The account digest: its id, each non-zero balance (asset digest, available, hold) in
    asset order, their count, the rate-limit window (-1 when the count is 0) and count."""
    a, b = _mix(0, 0, id_digest)
    for asset, available, hold in balances:
        a, b = _mix(a, b, asset)
        a, b = _mix(a, b, available)
        a, b = _mix(a, b, hold)
    a, b = _mix(a, b, len(balances))
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


def account_digest(acct: Account, asset_digests: list[int]) -> int:
    """_account_fields of a live account; ``asset_digests``: the text_digest of every
    asset of the engine by asset number (the numbering of ``acct.slots``, in asset
    order). In ``i64`` like ``order_digest``; amounts of 2**62 or more (or negative) take
    ``_account_slow``."""
    slots = acct.slots
    id_digest = acct.id_digest
    a: i64 = _step1(0, id_digest)
    b: i64 = _step2(0, id_digest)
    count = 0
    for no in range(len(slots)):
        bal = slots[no]
        if bal is None:
            continue
        available = bal.available
        hold = bal.hold
        if not available and not hold:
            continue
        if (available | hold) >> 62:
            return _account_slow(acct, asset_digests)
        count += 1
        asset = asset_digests[no]
        a, b = _step1(a, asset), _step2(b, asset)
        a, b = _step1(a, available), _step2(b, available)
        a, b = _step1(a, hold), _step2(b, hold)
    rl_count = acct.rl_count
    if not count and not rl_count:
        return 0
    window = acct.rl_window
    if (window | rl_count) >> 62 and rl_count:
        return _account_slow(acct, asset_digests)
    a, b = _step1(a, count), _step2(b, count)
    if rl_count:
        a, b = _step1(a, window), _step2(b, window)
    else:  # the window mixes as -1, i.e. P - 1 (kept non-negative for the steps)
        a, b = _step1(a, P1 - 1), _step2(b, P2 - 1)
    a, b = _step1(a, rl_count), _step2(b, rl_count)
    return int(a) * P2 + int(b)


def _account_slow(acct: Account, asset_digests: list[int]) -> int:
    balances: list[tuple[int, int, int]] = []
    for no, bal in enumerate(acct.slots):
        if bal is not None and (bal.available or bal.hold):
            balances.append((asset_digests[no], bal.available, bal.hold))
    rl_count = acct.rl_count
    if not balances and not rl_count:
        return 0
    return _account_fields(acct.id_digest, balances, acct.rl_window if rl_count else -1,
                           rl_count)


def adjustment_digest(adjustment_id: str) -> int:
    a, b = _mix_text(0, 0, adjustment_id)
    return a * P2 + b


def config_digest(config_bytes: bytes) -> str:
    return hashlib.sha256(config_bytes).hexdigest()


# symbol, seq, mode, last price, trade counter, retained closed count, order digest sum
MarketScalars = tuple[str, int, int, int, int, int, int]


def combine(config: str, account_seq: int, markets: list[MarketScalars], *, accounts: int,
            adjustments: int) -> str:
    """The version-2 hash of the scalars and the digest sums."""
    h = hashlib.sha256(b"exchange-core/state/v2\n")
    h.update(f"{config}\n{account_seq}\n".encode())
    for symbol, seq, mode, last, trades, closed, orders in markets:
        h.update(f"{symbol} {seq} {mode} {last} {trades} {closed} {orders & MASK}\n".encode())
    h.update(f"{accounts & MASK} {adjustments & MASK}\n".encode())
    return VERSION_PREFIX + h.hexdigest()


def hash_of_state(state: dict[str, Any], config_bytes: bytes) -> str:
    """The version-2 hash of a canonical state (state_codec.canonical_state), from scratch."""
    markets: list[MarketScalars] = []
    for m in state["markets"]:
        symbol = m["symbol"]
        orders = 0
        for side in ("bids", "asks"):
            for _price, records in m[side]:
                for rec in records:
                    orders += order_record_digest(symbol, rec)
        for rec in m["closed"]:
            orders += order_record_digest(symbol, rec)
        markets.append((symbol, m["seq"], m["mode"], m["last"], m["trades"], len(m["closed"]),
                        orders))
    accounts = sum(account_record_digest(rec) for rec in state["accounts"])
    adjustments = sum(adjustment_digest(a) for a in state["adjustments"])
    return combine(config_digest(config_bytes), state["account_seq"], markets,
                   accounts=accounts, adjustments=adjustments)
