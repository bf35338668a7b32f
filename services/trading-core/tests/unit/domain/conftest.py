"""Fixtures for the domain suite: one harness, run against BOTH engines.

The ``engine`` fixture is parametrized over the fast ``Engine`` and the reference
``NaiveEngine`` (exchange-core's OrderBookBaseTest pattern): every scenario test runs
twice and must pass on both.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import pytest

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.domain import (
    AssetSpec,
    BalanceAdjust,
    CancelAll,
    CancelOrder,
    Command,
    Engine,
    EngineConfig,
    MarketSpec,
    PlaceOrder,
    Result,
    RiskLimits,
    SetSymbolMode,
    codes,
)
from exchange_core.domain.naive_engine import NaiveEngine

BTC = Symbol("BTC-USDT")
ETH = Symbol("ETH-USDT")


class AnyEngine(Protocol):
    def apply(self, cmd: Command) -> Result: ...
    def snapshot(self) -> bytes: ...


def base_config(**market: Any) -> EngineConfig:
    """BTC-USDT: tick 0.01, lot 0.001 -> 1 tick x 1 lot = 10 USDT minor units (scale 6)."""
    btc = MarketSpec(BTC, Asset("BTC"), Asset("USDT"), tick_size="0.01", lot_size="0.001",
                     min_quantity="0.001", max_quantity="100", min_notional="0",
                     maker_fee_ppm=1_000, taker_fee_ppm=2_000)
    eth = MarketSpec(ETH, Asset("ETH"), Asset("USDT"), tick_size="0.1", lot_size="0.01",
                     min_quantity="0.01", max_quantity="1000")
    return EngineConfig(
        assets=(AssetSpec(Asset("BTC"), 8), AssetSpec(Asset("ETH"), 8),
                AssetSpec(Asset("USDT"), 6)),
        markets=(replace(btc, **market), eth),
        limits=RiskLimits(max_open_orders=50, rate_limit_count=0),
    )


class Harness:
    """Terse command builders over an engine; every call returns the Result."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.ts_ns = 1_000
        self._adj = 0

    def run(self, cmd: Command) -> Result:
        result: Result = self.engine.apply(cmd)
        if isinstance(self.engine, Engine):
            self.engine.check_invariants()
        return result

    def fund(self, account: str, asset: str, amount: int) -> Result:
        self._adj += 1
        return self.run(BalanceAdjust(f"adj-{self._adj}", AccountId(account), Asset(asset),
                                      amount, self.ts_ns))

    def limit(self, account: str, side: int, price: int, qty: int, *, cid: str = "",
              tif: int = codes.GTC, post_only: bool = False, stp: int = 0,
              symbol: Symbol = BTC) -> Result:
        return self.run(PlaceOrder(symbol, AccountId(account), cid, side, codes.LIMIT, tif,
                                   price, qty, 0, 0, post_only, stp, self.ts_ns))

    def market(self, account: str, side: int, qty: int, *, budget: int = 0,
               protection: int = 0, stp: int = 0, symbol: Symbol = BTC) -> Result:
        return self.run(PlaceOrder(symbol, AccountId(account), "", side, codes.MARKET, 0, 0,
                                   qty, budget, protection, False, stp, self.ts_ns))

    def cancel(self, account: str, order_no: int = 0, *, cid: str = "",
               symbol: Symbol = BTC) -> Result:
        order_id = f"{symbol}:{order_no}" if order_no else ""
        return self.run(CancelOrder(symbol, AccountId(account), order_id, cid, self.ts_ns))

    def cancel_all(self, account: str = "", symbol: str = "") -> Result:
        return self.run(CancelAll(Symbol(symbol), AccountId(account), self.ts_ns))

    def mode(self, mode: int, symbol: Symbol = BTC) -> Result:
        return self.run(SetSymbolMode(symbol, mode, self.ts_ns))

    def bal(self, account: str, asset: str) -> tuple[int, int]:
        if isinstance(self.engine, Engine):
            view = self.engine.balance(account, asset)
            return view.available, view.hold
        raw = self.engine.balances.get((account, asset), [0, 0])
        return raw[0], raw[1]


EngineFactory = Callable[[EngineConfig], Any]


@pytest.fixture(params=[Engine, NaiveEngine], ids=["fast", "naive"])
def factory(request: pytest.FixtureRequest) -> EngineFactory:
    cls: EngineFactory = request.param
    return cls


@pytest.fixture
def h(factory: EngineFactory) -> Harness:
    """A harness over a fresh engine with the base config (both implementations)."""
    return Harness(factory(base_config()))


@pytest.fixture
def make(factory: EngineFactory) -> Callable[[EngineConfig], Harness]:
    """Build a harness over a custom config (both implementations)."""
    return lambda cfg: Harness(factory(cfg))
