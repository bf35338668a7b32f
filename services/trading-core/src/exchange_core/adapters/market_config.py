"""The markets file (JSON) -> EngineConfig. Unknown keys are errors, not ignored.

    {"assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
     "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT",
                  "tick_size": "0.01", "lot_size": "0.0001",
                  "min_quantity": "0.0001", "max_quantity": "1000"}],
     "limits": {"max_open_orders": 1000},
     "fee_account": "fees"}
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

from exchange_common.config import ConfigError
from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.domain import AssetSpec, EngineConfig, MarketSpec, RiskLimits


def _build(cls: Any, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        return cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_markets(raw: Any) -> EngineConfig:
    if not isinstance(raw, dict):
        raise ConfigError("markets file: expected an object")
    unknown = set(raw) - {"assets", "markets", "limits", "fee_account"}
    if unknown:
        raise ConfigError(f"markets file: unknown keys {sorted(unknown)}")
    assets = []
    for i, a in enumerate(raw.get("assets", [])):
        spec = _build(AssetSpec, a, f"assets[{i}]")
        assets.append(AssetSpec(Asset(spec.code), int(spec.scale)))
    markets = []
    for i, m in enumerate(raw.get("markets", [])):
        spec = _build(MarketSpec, m, f"markets[{i}]")
        markets.append(dataclasses.replace(
            spec, symbol=Symbol(spec.symbol), base=Asset(spec.base), quote=Asset(spec.quote)))
    if not markets:
        raise ConfigError("markets file: no markets")
    limits = _build(RiskLimits, raw.get("limits", {}), "limits")
    return EngineConfig(
        assets=tuple(assets), markets=tuple(markets), limits=limits,
        fee_account=AccountId(str(raw.get("fee_account", "fees"))),
    )


def load_markets(path: Path) -> EngineConfig:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"markets file not found: {path} (CORE_MARKETS_FILE)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"markets file {path}: invalid JSON: {exc}") from None
    return parse_markets(raw)
