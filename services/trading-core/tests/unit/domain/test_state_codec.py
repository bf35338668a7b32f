"""Snapshots are canonical and restorable; the state hash is deterministic."""

import hashlib
import json

import pytest

from exchange_common.ids import AccountId, Asset
from exchange_core.domain import (
    BalanceAdjust,
    CancelOrder,
    Engine,
    InvariantViolation,
    PlaceOrder,
    SnapshotError,
    codes,
)
from exchange_core.domain.engine import DIRTY_FOLD_AT
from exchange_core.domain.state_codec import encode_state
from exchange_core.domain.state_hash import hash_of_state

from .conftest import BTC, base_config


def stream(variant: int = 0) -> list[object]:
    out: list[object] = [BalanceAdjust(f"d{a}{x}", AccountId(a), Asset(x), 10**9)
                         for a in "abc" for x in ("USDT", "BTC")]
    for i in range(60):
        acct = AccountId("abc"[i % 3])
        side = codes.BUY if i % 2 else codes.SELL
        price = 100 + (i * 7) % 9 - 4 + (variant if i == 30 else 0)
        out.append(PlaceOrder(BTC, acct, f"c{i}", side, codes.LIMIT, codes.GTC, price,
                              1 + i % 5, 0, 0, False, 0, i))
        if i % 7 == 0:
            out.append(CancelOrder(BTC, acct, f"{BTC}:{len(out) - 8}", "", i))
    return out


def run(cmds: list[object]) -> Engine:
    engine = Engine(base_config())
    for cmd in cmds:
        engine.apply(cmd)  # type: ignore[arg-type]
    return engine


def test_the_same_stream_twice_gives_the_same_hash() -> None:
    assert run(stream()).state_hash() == run(stream()).state_hash()


def test_a_different_stream_gives_a_different_hash() -> None:
    assert run(stream()).state_hash() != run(stream(variant=1)).state_hash()


def test_restore_gives_the_same_bytes_and_the_same_future() -> None:
    engine = run(stream())
    restored = Engine.restore(engine.snapshot())
    assert restored.snapshot() == engine.snapshot()
    more = PlaceOrder(BTC, AccountId("a"), "", codes.BUY, codes.LIMIT, codes.GTC, 104, 20,
                      0, 0, False, 0, 99)
    assert restored.apply(more) == engine.apply(more)
    assert restored.state_hash() == engine.state_hash()


def test_the_state_hash_is_version_2_and_the_incremental_sums_match_a_full_recompute() -> None:
    engine = run(stream())
    incremental = engine.state_hash()
    assert incremental.startswith("02") and len(incremental) == 66
    state = json.loads(engine.snapshot())
    assert incremental == hash_of_state(state, encode_state(state["config"]))
    engine.rehash()  # every digest recomputed from scratch
    assert engine.state_hash() == incremental


def test_changed_orders_are_folded_into_the_hash_before_their_list_grows_unbounded() -> None:
    engine = Engine(base_config())
    engine.apply(BalanceAdjust("d", AccountId("a"), Asset("USDT"), 10**12))
    for i in range(2 * DIRTY_FOLD_AT):  # place and cancel: every order changes twice
        engine.apply(PlaceOrder(BTC, AccountId("a"), "", codes.BUY, codes.LIMIT, codes.GTC,
                                100, 1, 0, 0, False, 0, i))
        engine.apply(CancelOrder(BTC, AccountId("a"), f"{BTC}:{engine.seq(BTC)}", "", i))
        assert len(engine._dirty_orders) <= DIRTY_FOLD_AT + 1
    state = json.loads(engine.snapshot())
    assert engine.state_hash() == hash_of_state(state, encode_state(state["config"]))


def test_a_recorded_hash_of_either_version_is_checked() -> None:
    engine = run(stream())
    v1 = hashlib.sha256(engine.snapshot()).hexdigest()
    assert engine.hash_matches(v1) and engine.hash_matches(engine.state_hash())
    other = run(stream(variant=1))
    assert not other.hash_matches(v1) and not other.hash_matches(engine.state_hash())


def test_malformed_snapshot_bytes_raise_snapshot_error() -> None:
    with pytest.raises(SnapshotError):
        Engine.restore(b"{not json")
    with pytest.raises(SnapshotError):
        Engine.restore(b'{"version": 99}')


def test_non_canonical_bytes_are_refused() -> None:
    data = run(stream()).snapshot()
    with pytest.raises(SnapshotError, match="canonical"):
        Engine.restore(data.replace(b'{"account_seq"', b'{ "account_seq"', 1))


def test_a_snapshot_that_breaks_an_invariant_is_refused() -> None:
    state = json.loads(run(stream()).snapshot())
    state["accounts"][0][1][0][2] += 1  # one more unit on hold than the orders reserve
    with pytest.raises(InvariantViolation, match="RISK-1"):
        Engine.restore(encode_state(state))
