"""Market configuration and the exact conversion between decimal strings and integers.

Units inside the engine:
- price: integer **ticks** of the market's ``tick_size``;
- quantity: integer **lots** of the market's ``lot_size``;
- balances, holds, fees, quote budgets, notional: integer **minor units of the asset**
  (``10**-scale`` of the asset, the ledger's unit).

A fill of ``qty_lots`` at ``price_ticks`` moves ``price_ticks * qty_lots *
quote_per_tick_lot`` minor units of quote and ``qty_lots * base_per_lot`` minor units of
base; both factors are exact integers, checked when the market is built.
"""

from dataclasses import dataclass, fields
from typing import Any, Final, NamedTuple

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_common.money import MoneyFormatError, format_units, parse_units
from exchange_core.domain import codes
from exchange_core.domain.invariants import ConfigError

PPM: Final = 1_000_000
PPM_CEIL: Final = PPM - 1  # (x + PPM_CEIL) // PPM == ceil(x / PPM) for x >= 0
BPS: Final = 10_000
FEE_PPM_MAX: Final = 100_000  # 10 %
FEE_ACCOUNT: Final = AccountId("fees")
PRICE_TICKS_MAX: Final = 10**15
QTY_LOTS_MAX: Final = 10**15


def _field_values(spec: Any) -> tuple[Any, ...]:
    """A frozen spec's fields in order: its pickle form (``__reduce__``). The mypyc build
    of this module cannot restore frozen dataclasses through dataclasses' __setstate__."""
    return tuple(getattr(spec, f.name) for f in fields(spec))


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """An asset and its minor unit: ``scale`` decimal places (USDT 6, BTC 8)."""

    code: Asset
    scale: int

    def __reduce__(self) -> tuple[type["AssetSpec"], tuple[Any, ...]]:
        return type(self), _field_values(self)


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """Per-symbol configuration, as an operator writes it (decimal strings outside)."""

    symbol: Symbol
    base: Asset
    quote: Asset
    tick_size: str
    lot_size: str
    min_quantity: str
    max_quantity: str
    min_notional: str = "0"
    # Price band: |limit price - reference| <= reference * band_bps / 10_000; 0 = off.
    price_band_bps: int = 0
    # Reference price before the first trade ("" = none: no band until a trade).
    reference_price: str = ""
    maker_fee_ppm: int = 0
    taker_fee_ppm: int = 0
    mode: int = codes.MODE_NORMAL

    def __reduce__(self) -> tuple[type["MarketSpec"], tuple[Any, ...]]:
        return type(self), _field_values(self)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Engine-wide per-account limits; time comes from each command's ``ts_ns``."""

    max_open_orders: int = 1_000
    # At most ``rate_limit_count`` commands per account per fixed window of
    # ``rate_limit_window_ns`` (window id = ts_ns // window); 0 disables the limit.
    rate_limit_count: int = 0
    rate_limit_window_ns: int = 1_000_000_000
    # Finished orders kept per market for GetOrder (oldest evicted first).
    closed_orders_retained: int = 10_000

    def __reduce__(self) -> tuple[type["RiskLimits"], tuple[Any, ...]]:
        return type(self), _field_values(self)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything an Engine is built from; part of every snapshot."""

    assets: tuple[AssetSpec, ...]
    markets: tuple[MarketSpec, ...]
    limits: RiskLimits = RiskLimits()
    # Account credited with every fee (available, quote asset).
    fee_account: AccountId = FEE_ACCOUNT

    def __reduce__(self) -> tuple[type["EngineConfig"], tuple[Any, ...]]:
        return type(self), _field_values(self)


class Parsed(NamedTuple):
    """Outcome of a conversion: ``value`` when ``code == codes.OK``, else a reject code."""

    value: int
    code: int
    reason: str

    @property
    def ok(self) -> bool:
        return self.code == codes.OK


def _decimal_places(text: str) -> int:
    return len(text.partition(".")[2].rstrip("0"))


def _grid(text: str, what: str) -> tuple[int, int]:
    """(units, scale) of a positive grid step such as ``"0.05"``."""
    try:
        scale = _decimal_places(text)
        units = parse_units(text, scale)
    except MoneyFormatError as exc:
        raise ConfigError(f"{what}: {exc}") from exc
    if units <= 0:
        raise ConfigError(f"{what} must be > 0: {text!r}")
    return units, scale


class MarketGrid:
    """Compiled, immutable integer view of a MarketSpec plus the string conversions."""

    __slots__ = (
        "base",
        "base_per_lot",
        "base_scale",
        "lot_units",
        "maker_fee_ppm",
        "max_fee_ppm",
        "max_lots",
        "min_lots",
        "min_notional",
        "price_band_bps",
        "price_scale",
        "qty_scale",
        "quote",
        "quote_per_tick_lot",
        "quote_scale",
        "reference_ticks",
        "spec",
        "symbol",
        "taker_fee_ppm",
        "tick_units",
    )

    def __init__(self, spec: MarketSpec, scales: dict[Asset, int]) -> None:
        if spec.base not in scales or spec.quote not in scales or spec.base == spec.quote:
            raise ConfigError(f"{spec.symbol}: base/quote must be two distinct known assets")
        self.spec = spec
        self.symbol = spec.symbol
        self.base, self.quote = spec.base, spec.quote
        self.base_scale, self.quote_scale = scales[spec.base], scales[spec.quote]
        self.tick_units, self.price_scale = _grid(spec.tick_size, f"{spec.symbol} tick_size")
        self.lot_units, self.qty_scale = _grid(spec.lot_size, f"{spec.symbol} lot_size")
        # quote minor units per (1 tick x 1 lot); must be an exact integer.
        shift = self.quote_scale - self.price_scale - self.qty_scale
        if shift < 0:
            raise ConfigError(f"{spec.symbol}: quote scale too small for tick x lot")
        self.quote_per_tick_lot: int = self.tick_units * self.lot_units * 10**shift
        base_shift = self.base_scale - self.qty_scale
        if base_shift < 0:
            raise ConfigError(f"{spec.symbol}: base scale too small for lot_size")
        self.base_per_lot: int = self.lot_units * 10**base_shift
        for rate in (spec.maker_fee_ppm, spec.taker_fee_ppm):
            if not 0 <= rate <= FEE_PPM_MAX:
                raise ConfigError(f"{spec.symbol}: fee rate out of range: {rate}")
        self.maker_fee_ppm, self.taker_fee_ppm = spec.maker_fee_ppm, spec.taker_fee_ppm
        self.max_fee_ppm = max(spec.maker_fee_ppm, spec.taker_fee_ppm)
        if not 0 <= spec.price_band_bps < BPS:
            raise ConfigError(f"{spec.symbol}: price_band_bps out of range")
        self.price_band_bps = spec.price_band_bps
        self.min_lots = self._config_qty(spec.min_quantity, "min_quantity")
        self.max_lots = self._config_qty(spec.max_quantity, "max_quantity")
        if not 0 < self.min_lots <= self.max_lots <= QTY_LOTS_MAX:
            raise ConfigError(f"{spec.symbol}: need 0 < min_quantity <= max_quantity")
        notional = self.parse_amount(self.quote, spec.min_notional)
        if not notional.ok:
            raise ConfigError(f"{spec.symbol}: min_notional: {notional.reason}")
        self.min_notional = notional.value
        self.reference_ticks = 0
        if spec.reference_price:
            ref = self.parse_price(spec.reference_price)
            if not ref.ok:
                raise ConfigError(f"{spec.symbol}: reference_price: {ref.reason}")
            self.reference_ticks = ref.value
        if spec.mode not in (codes.MODE_NORMAL, codes.MODE_POST_ONLY,
                             codes.MODE_CANCEL_ONLY, codes.MODE_HALTED):
            raise ConfigError(f"{spec.symbol}: invalid mode {spec.mode}")

    def _config_qty(self, text: str, what: str) -> int:
        parsed = self.parse_quantity(text)
        if not parsed.ok:
            raise ConfigError(f"{self.symbol}: {what}: {parsed.reason}")
        return parsed.value

    # ---- decimal string -> integer (exact; off-grid is a reject code) ----------------

    def parse_price(self, text: str) -> Parsed:
        """Price string -> ticks. Malformed/zero: INVALID_PRICE; off tick: PRICE_OFF_TICK."""
        return _parse_step(text, self.price_scale, self.tick_units, PRICE_TICKS_MAX,
                           codes.INVALID_PRICE, codes.PRICE_OFF_TICK, "price")

    def parse_quantity(self, text: str) -> Parsed:
        """Quantity -> lots. Malformed/zero: INVALID_QUANTITY; off lot: QUANTITY_OFF_LOT."""
        return _parse_step(text, self.qty_scale, self.lot_units, QTY_LOTS_MAX,
                           codes.INVALID_QUANTITY, codes.QUANTITY_OFF_LOT, "quantity")

    def parse_amount(self, asset: Asset, text: str, *, signed: bool = False) -> Parsed:
        """Amount of ``asset`` (base or quote of this market) -> minor units."""
        scale = self.quote_scale if asset == self.quote else self.base_scale
        try:
            return Parsed(parse_units(text, scale, signed=signed), codes.OK, "")
        except MoneyFormatError as exc:
            return Parsed(0, codes.INVALID_AMOUNT, f"amount: {exc}")

    # ---- integer -> canonical decimal string -----------------------------------------

    def format_price(self, ticks: int) -> str:
        return format_units(ticks * self.tick_units, self.price_scale)

    def format_quantity(self, lots: int) -> str:
        return format_units(lots * self.lot_units, self.qty_scale)

    def format_amount(self, asset: Asset, units: int) -> str:
        """Minor units of this market's base or quote asset -> decimal string."""
        scale = self.quote_scale if asset == self.quote else self.base_scale
        return format_units(units, scale)


def _parse_step(text: str, scale: int, step: int, maximum: int, invalid: int,  # noqa: PLR0917
                off_grid: int, what: str) -> Parsed:
    try:
        units = parse_units(text, scale)
    except MoneyFormatError as exc:
        if "decimal places" in str(exc):
            return Parsed(0, off_grid, f"{what} off the grid: {text!r}")
        return Parsed(0, invalid, f"{what}: {exc}")
    if units == 0:
        return Parsed(0, invalid, f"{what} must be > 0")
    steps, rest = divmod(units, step)
    if rest:
        return Parsed(0, off_grid, f"{what} off the grid: {text!r}")
    if steps > maximum:
        return Parsed(0, invalid, f"{what} too large: {text!r}")
    return Parsed(steps, codes.OK, "")


def format_order_id(symbol: str, order_no: int) -> str:
    """Public order id: ``"<symbol>:<n>"``, n = the symbol seq that created the order."""
    return f"{symbol}:{order_no}"


def parse_order_id(symbol: str, order_id: str) -> int:
    """The order number inside ``order_id`` of ``symbol``; 0 when it is not one of ours."""
    n = len(symbol)
    if len(order_id) <= n + 1 or order_id[n] != ":" or not order_id.startswith(symbol):
        return 0
    number = order_id[n + 1:]
    # ASCII digits only: str.isdigit() alone also accepts "²" (int() refuses it) and "٣".
    if len(number) > 18 or not number.isascii() or not number.isdigit():
        return 0
    return int(number)


def format_trade_id(symbol: str, trade_no: int) -> str:
    """Public trade id: ``"<symbol>:T<n>"``, n = the market's trade counter (1, 2, ...)."""
    return f"{symbol}:T{trade_no}"


def format_asset_amount(scale: int, units: int) -> str:
    """Minor units of an asset of ``scale`` -> (signed) decimal string."""
    return format_units(units, scale)


def parse_asset_amount(scale: int, text: str, *, signed: bool = False) -> Parsed:
    try:
        return Parsed(parse_units(text, scale, signed=signed), codes.OK, "")
    except MoneyFormatError as exc:
        return Parsed(0, codes.INVALID_AMOUNT, f"amount: {exc}")
