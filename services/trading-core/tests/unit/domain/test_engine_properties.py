"""Property tests: random command streams through the fast engine and the naive oracle.

Many accounts, a small price range (crossing is frequent), every order type / TIF / STP /
post-only, cancels by id and client id, cancel-all, mode changes and balance commands.
After every command: identical replies and events; the fast engine's invariants hold
(ME-*, RISK-*); each asset's total equals the sum of applied balance deltas (RISK-6).
Half-way, the fast engine is replaced by ``Engine.restore(fast.snapshot())`` (a snapshot
must hold everything the future depends on). At the end: identical canonical state
(same snapshot bytes), and the snapshot restores to an engine with the same bytes.
Every 7 commands and at the end, the fast engine's incremental state hash equals the
version-2 hash computed from scratch from the naive engine's canonical state.
"""

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.domain import (
    AssetSpec,
    BalanceAdjust,
    CancelAll,
    CancelOrder,
    Engine,
    EngineConfig,
    MarketSpec,
    PlaceOrder,
    RiskLimits,
    SetSymbolMode,
    codes,
)
from exchange_core.domain.naive_engine import NaiveEngine
from exchange_core.domain.state_codec import config_state, encode_state
from exchange_core.domain.state_hash import hash_of_state

SYMBOLS = [Symbol("AAA-USD"), Symbol("BBB-USD")]
ACCOUNTS = [AccountId(f"acc{i}") for i in range(5)]
ASSETS = [Asset("AAA"), Asset("BBB"), Asset("USD")]
CIDS = ["", "", "c1", "c2", "c3"]

CONFIG = EngineConfig(
    assets=(AssetSpec(ASSETS[0], 4), AssetSpec(ASSETS[1], 3), AssetSpec(ASSETS[2], 4)),
    markets=(
        # 1 tick x 1 lot = 1 USD minor unit; coarse on purpose so fee rounding matters.
        MarketSpec(SYMBOLS[0], ASSETS[0], ASSETS[2], tick_size="0.1", lot_size="0.001",
                   min_quantity="0.001", max_quantity="0.05", maker_fee_ppm=2_500,
                   taker_fee_ppm=7_000),
        MarketSpec(SYMBOLS[1], ASSETS[1], ASSETS[2], tick_size="0.1", lot_size="0.01",
                   min_quantity="0.01", max_quantity="0.3", min_notional="0.05",
                   price_band_bps=800, reference_price="10", maker_fee_ppm=0,
                   taker_fee_ppm=1_000),
    ),
    limits=RiskLimits(max_open_orders=6, rate_limit_count=12, rate_limit_window_ns=1_000,
                      closed_orders_retained=8),
    fee_account=AccountId("acc0"),  # the fee account also trades: self-crediting works
)
CONFIG_BYTES = encode_state(config_state(CONFIG))

def place(rng: random.Random) -> PlaceOrder:
    otype = rng.choice([codes.LIMIT] * 12 + [codes.MARKET] * 3 + [0])
    market = otype == codes.MARKET
    tifs = ([0, codes.IOC, codes.IOC, codes.IOC, codes.GTC] if market else
            [0, *[codes.GTC] * 6, codes.IOC, codes.IOC, codes.FOK, 9])
    return PlaceOrder(
        rng.choice(SYMBOLS), rng.choice(ACCOUNTS), rng.choice(CIDS),
        rng.choice([codes.BUY] * 8 + [codes.SELL] * 8 + [5]), otype, rng.choice(tifs),
        0 if market else rng.choice([*range(96, 105), 90, 0]),
        rng.choice([*range(1, 13), 20, 35, 0]),
        rng.choice([0, 0, 500, 4_000, 60_000]) if market else 0,
        rng.choice([0, 0, 99, 102]) if market else 0,
        rng.random() < 0.25,
        rng.randint(0, 4),
        0, "corr",
    )


def cancel(rng: random.Random) -> CancelOrder:
    symbol = rng.choice(SYMBOLS)
    if rng.random() < 0.5:
        return CancelOrder(symbol, rng.choice(ACCOUNTS), f"{symbol}:{rng.randint(1, 60)}")
    return CancelOrder(symbol, rng.choice(ACCOUNTS), "", rng.choice(CIDS))


def command(seed: int) -> Any:
    """One command from one drawn integer: generation stays cheap (a draw per command)
    and Hypothesis still shrinks a failing stream by dropping and simplifying commands."""
    rng = random.Random(seed)
    kind = rng.randrange(12)
    if kind < 7:
        return place(rng)
    if kind < 9:
        return cancel(rng)
    if kind == 9:
        return BalanceAdjust(rng.choice([f"adj{i}" for i in range(12)] + [""]),
                             rng.choice(ACCOUNTS), rng.choice([*ASSETS, Asset("ZZZ")]),
                             rng.randint(-3_000, 20_000))
    if kind == 10:
        return CancelAll(rng.choice([*SYMBOLS, Symbol("")]),
                         rng.choice([*ACCOUNTS, AccountId("")]))
    return SetSymbolMode(rng.choice(SYMBOLS), rng.choice([1] * 8 + [2, 3, 4, 7]))


def funding() -> list[BalanceAdjust]:
    out = []
    for i, acct in enumerate(ACCOUNTS):
        for asset in ASSETS:
            out.append(BalanceAdjust(f"seed-{i}-{asset}", acct, asset, 300_000))
    return out


def account_view(engine: Engine, account_id: str) -> tuple[object, ...]:
    """Balances and open orders of one account (what a rejected command must not touch)."""
    return (*(engine.balance(account_id, a) for a in ASSETS),
            tuple(engine.open_orders(account_id)))


def with_time(cmd: Any, ts_ns: int) -> Any:
    return cmd._replace(ts_ns=ts_ns)


@given(st.lists(st.tuples(st.integers(0, 2**32), st.integers(0, 120)), min_size=20,
                max_size=150))
def test_fast_and_naive_engines_agree_and_invariants_hold_after_every_command(
        stream: list[tuple[Any, int]]) -> None:
    fast, naive = Engine(CONFIG), NaiveEngine(CONFIG)
    deposited = dict.fromkeys(ASSETS, 0)
    ts_ns = 0
    cmds = [*[(c, 0) for c in funding()], *[(command(s), t) for s, t in stream]]
    for i, (raw, step) in enumerate(cmds):
        if i == len(cmds) // 2:  # continue on a restored copy: the snapshot is complete
            fast = Engine.restore(fast.snapshot())
        ts_ns += step
        cmd = with_time(raw, ts_ns)
        account = getattr(cmd, "account_id", "")
        before = account_view(fast, account)
        got, want = fast.apply(cmd), naive.apply(cmd)
        assert got == want, f"diverged on {cmd}"
        if not got.accepted and not isinstance(cmd, CancelAll):
            assert account_view(fast, account) == before, "RISK-7: a reject changed funds"
        fast.check_invariants()
        if isinstance(cmd, BalanceAdjust) and got.accepted:
            deposited[cmd.asset] += cmd.delta
        assert fast.totals() == deposited, "RISK-6: an asset was created or destroyed"
        if i % 7 == 0:  # the incremental hash equals the hash computed from scratch (ME-8)
            assert fast.state_hash() == hash_of_state(naive.canonical_state(), CONFIG_BYTES)
    snapshot = fast.snapshot()
    assert snapshot == naive.snapshot()
    assert Engine.restore(snapshot).snapshot() == snapshot
    assert fast.state_hash() == hash_of_state(naive.canonical_state(), CONFIG_BYTES)
    assert Engine.restore(snapshot).state_hash() == fast.state_hash()
