"""Per-asset scales: amounts become integers of minor units exactly, or are refused."""

from collections.abc import Mapping

from exchange_common.money import MoneyFormatError, parse_units
from exchange_ledger.domain.rejection import Refusal, Rejection

AssetScales = Mapping[str, int]

_MAX_DIGITS = 38
_ZEROS = ["0" * n for n in range(40)]


def to_units(
    scales: AssetScales, asset: str, text: str, *, what: str, signed: bool = False
) -> int | Rejection:
    """``text`` in minor units of ``asset``; never rounds (an off-scale amount is refused)."""
    scale = scales.get(asset)
    if scale is None:
        return Rejection(Refusal.UNKNOWN_ASSET, f"{what}: unknown asset {asset!r}")
    # Fast path for the plain unsigned form with at most ``scale`` decimals (the hot path
    # of settlement): one int() of the digits padded to the scale. Anything else,
    # including every error, goes through parse_units for its exact rules and messages.
    whole, dot, frac = text.partition(".")
    if (len(frac) <= scale and whole.isdigit() and whole.isascii()
            and len(whole) + len(frac) <= _MAX_DIGITS
            and (not dot or (frac.isdigit() and frac.isascii()))):
        return int(whole + frac + _ZEROS[scale - len(frac)])
    if not text.isascii():
        return Rejection(Refusal.INVALID_AMOUNT, f"{what}: {text!r} is not a plain ASCII decimal")
    try:
        return parse_units(text, scale, signed=signed)
    except MoneyFormatError as exc:
        return Rejection(Refusal.INVALID_AMOUNT, f"{what}: {exc} (asset {asset} scale {scale})")
