"""Canonical state: one plain structure, one byte encoding, one hash.

``canonical_state`` lists everything that defines the engine (config, per-market seq,
mode, last price, trade counter, every open order in book priority order, the
recently-closed ring, non-empty balances, rate-limit windows, applied adjustment ids)
in a fixed order, so two engines in the same state give the same bytes (ME-8). The
naive reference engine builds the same structure from its own representation.
"""

import dataclasses
import hashlib
import json
from typing import TYPE_CHECKING, Any

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.domain.account import Account
from exchange_core.domain.invariants import DomainError, SnapshotError
from exchange_core.domain.market import AssetSpec, EngineConfig, MarketSpec, RiskLimits
from exchange_core.domain.order import Order

if TYPE_CHECKING:
    from exchange_core.domain.engine import Engine

FORMAT_VERSION = 1
OrderRecord = list[Any]


def order_record(o: Order) -> OrderRecord:
    return [o.no, o.acct.id, o.cid, o.side, o.kind, o.price, o.qty, o.remaining, o.hold,
            o.unit, o.status, o.updated_seq]


def config_state(config: EngineConfig) -> dict[str, Any]:
    return {
        "assets": [dataclasses.asdict(a) for a in config.assets],
        "markets": [dataclasses.asdict(s) for s in sorted(config.markets,
                                                          key=lambda s: s.symbol)],
        "limits": dataclasses.asdict(config.limits),
        "fee_account": config.fee_account,
    }


def account_state(account_id: str, balances: dict[Asset, tuple[int, int]], rl_window: int,
                  rl_count: int) -> list[Any] | None:
    """Canonical record of an account, or None when it holds nothing worth keeping."""
    bals = [[a, av, h] for a, (av, h) in sorted(balances.items()) if av or h]
    if not bals and not rl_count:
        return None
    return [account_id, bals, rl_window if rl_count else -1, rl_count]


def canonical_state(engine: "Engine") -> dict[str, Any]:
    markets = []
    for m in engine._markets.values():
        markets.append({
            "symbol": m.symbol, "seq": m.seq, "mode": m.mode, "last": m.last_ticks,
            "trades": m.trade_no,
            "bids": [[lv.price, [order_record(o) for o in lv.live()]]
                     for lv in m.bids.iter_levels()],
            "asks": [[lv.price, [order_record(o) for o in lv.live()]]
                     for lv in m.asks.iter_levels()],
            "closed": [order_record(o) for o in m.closed_orders()],
        })
    accounts = []
    for account_id in sorted(engine._accounts):
        acct = engine._accounts[account_id]
        rec = account_state(account_id,
                            {a: (b.available, b.hold) for a, b in acct.balances.items()},
                            acct.rl_window, acct.rl_count)
        if rec is not None:
            accounts.append(rec)
    return {
        "version": FORMAT_VERSION,
        "config": config_state(engine.config),
        "account_seq": engine.account_seq,
        "adjustments": sorted(engine._adjustments),
        "markets": markets,
        "accounts": accounts,
    }


def encode_state(state: dict[str, Any]) -> bytes:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def encode_engine(engine: "Engine") -> bytes:
    return encode_state(canonical_state(engine))


def state_hash_v1(engine: "Engine") -> str:
    """The version-1 state hash (SHA-256 of the canonical snapshot): checks old records."""
    return hashlib.sha256(encode_engine(engine)).hexdigest()


def decode_engine(data: bytes, factory: "type[Engine]") -> "Engine":
    """Rebuild an engine; the bytes must be canonical and the invariants must hold."""
    try:
        state = json.loads(data)
        if state["version"] != FORMAT_VERSION:
            raise SnapshotError(f"snapshot version {state['version']} not supported")
        engine = _rebuild(state, factory)
    except SnapshotError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, DomainError) as exc:
        raise SnapshotError(f"malformed snapshot: {exc!r}") from exc
    if encode_engine(engine) != data:
        raise SnapshotError("snapshot bytes are not canonical")
    engine.check_invariants()
    return engine


def _config(raw: dict[str, Any]) -> EngineConfig:
    return EngineConfig(
        assets=tuple(AssetSpec(Asset(a["code"]), a["scale"]) for a in raw["assets"]),
        markets=tuple(MarketSpec(**{**s, "symbol": Symbol(s["symbol"])})
                      for s in raw["markets"]),
        limits=RiskLimits(**raw["limits"]),
        fee_account=AccountId(raw["fee_account"]),
    )


def _rebuild(state: dict[str, Any], factory: "type[Engine]") -> "Engine":
    engine = factory(_config(state["config"]))
    engine.account_seq = int(state["account_seq"])
    engine._adjustments = set(state["adjustments"])
    for account_id, bals, rl_window, rl_count in state["accounts"]:
        acct = engine._account(AccountId(account_id))
        for asset, available, hold in bals:
            bal = acct.balance(Asset(asset))  # in place: the engine caches fee balances
            bal.available, bal.hold = int(available), int(hold)
        acct.rl_window, acct.rl_count = int(rl_window), int(rl_count)
    for raw in state["markets"]:
        m = engine._markets[Symbol(raw["symbol"])]
        m.seq, m.mode, m.last_ticks, m.trade_no = raw["seq"], raw["mode"], raw["last"], \
            raw["trades"]
        for rec in raw["closed"]:
            closed = _order(engine, m.symbol, rec)
            m.orders[closed.no] = closed
            m.remember(closed)
        resting = []
        for side_key in ("bids", "asks"):
            for _price, recs in raw[side_key]:
                for rec in recs:
                    order = _order(engine, m.symbol, rec)
                    m.side(order.side).add(order)
                    resting.append(order)
        for order in sorted(resting, key=lambda o: o.no):
            m.orders[order.no] = order
            order.acct.link(order)
            if order.cid:
                order.acct.cids[order.cid] = order
    engine.rehash()
    return engine


def _order(engine: "Engine", symbol: str, rec: OrderRecord) -> Order:
    no, account_id, cid, side, kind, price, qty, remaining, hold, unit, status, upd = rec
    acct: Account = engine._account(AccountId(account_id))
    order = Order(no, symbol, acct, cid, side, kind, price, qty, hold, unit)
    order.remaining, order.status, order.updated_seq = remaining, status, upd
    return order
