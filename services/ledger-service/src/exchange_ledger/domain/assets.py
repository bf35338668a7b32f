"""Per-asset scales: amounts become integers of minor units exactly, or are refused."""

from collections.abc import Mapping

from exchange_common.money import MoneyFormatError, parse_units
from exchange_ledger.domain.rejection import Refusal, Rejection

AssetScales = Mapping[str, int]

_MAX_DIGITS = 38
_ZEROS = ["0" * n for n in range(40)]

# Plain amounts already parsed, per scale: prices, lot sizes and fees repeat a lot on the
# settlement hot path. Only successes of the exact fast path below are kept (a pure
# function of (scale, text)), so a hit returns what parsing would. Bounded: a scale's
# table is dropped whole when it reaches _CACHE_MAX entries.
_CACHE_MAX = 50_000
_parsed: dict[int, dict[str, int]] = {}


def to_units(
    scales: AssetScales, asset: str, text: str, *, what: str, signed: bool = False
) -> int | Rejection:
    """``text`` in minor units of ``asset``; never rounds (an off-scale amount is refused)."""
    scale = scales.get(asset)
    if scale is None:
        return Rejection(Refusal.UNKNOWN_ASSET, f"{what}: unknown asset {asset!r}")
    known = _parsed.get(scale)
    if known is None:
        known = _parsed[scale] = {}
    units = known.get(text)
    if units is not None:
        return units
    # Fast path for the plain unsigned form with at most ``scale`` decimals (the hot path
    # of settlement): one int() of the digits padded to the scale. Anything else,
    # including every error, goes through parse_units for its exact rules and messages.
    whole, dot, frac = text.partition(".")
    if (len(frac) <= scale and whole.isdigit() and whole.isascii()
            and len(whole) + len(frac) <= _MAX_DIGITS
            and (not dot or (frac.isdigit() and frac.isascii()))):
        if len(known) >= _CACHE_MAX:
            known.clear()
        units = known[text] = int(whole + frac + _ZEROS[scale - len(frac)])
        return units
    if not text.isascii():
        return Rejection(Refusal.INVALID_AMOUNT, f"{what}: {text!r} is not a plain ASCII decimal")
    try:
        return parse_units(text, scale, signed=signed)
    except MoneyFormatError as exc:
        return Rejection(Refusal.INVALID_AMOUNT, f"{what}: {exc} (asset {asset} scale {scale})")
