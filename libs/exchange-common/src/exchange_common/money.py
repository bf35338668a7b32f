"""Exact conversion between canonical decimal strings and scaled integers.

Money is never a float. Outside a service, amounts are decimal strings; inside, integers
of a unit with a known number of decimal places (``scale``): ticks and lots in the core,
minor units in the ledger. ``parse_units("1.25", 2) == 125``; a value with more decimal
places than the scale allows is off the grid and rejected, never rounded.
"""

import re

_DECIMAL = re.compile(r"^(-)?([0-9]+)(?:\.([0-9]+))?$")
_MAX_DIGITS = 38


class MoneyFormatError(ValueError):
    """A decimal string that is malformed, too long, or off the unit grid."""


def parse_units(text: str, scale: int, *, signed: bool = False) -> int:
    """Return ``text`` as an integer count of ``10**-scale`` units, exactly.

    Accepts plain decimal notation only (``"12"``, ``"0.5"``, ``"-3.10"`` when
    ``signed``): no exponent, no spaces, no ``+``, no leading ``.``.
    """
    if scale < 0:
        raise ValueError("scale must be >= 0")
    match = _DECIMAL.match(text)
    if match is None:
        raise MoneyFormatError(f"not a plain decimal number: {text!r}")
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if sign and not signed:
        raise MoneyFormatError(f"negative value not allowed: {text!r}")
    if len(whole) + len(frac) > _MAX_DIGITS:
        raise MoneyFormatError(f"too many digits: {text!r}")
    significant = frac.rstrip("0")
    if len(significant) > scale:
        raise MoneyFormatError(f"{text!r} has more than {scale} decimal places")
    units: int = int(whole) * 10**scale
    if significant:
        units += int(significant) * 10 ** (scale - len(significant))
    return -units if sign else units


def format_units(units: int, scale: int) -> str:
    """Canonical decimal string of ``units * 10**-scale``: no exponent, no trailing zeros."""
    if scale < 0:
        raise ValueError("scale must be >= 0")
    sign = "-" if units < 0 else ""
    digits = str(abs(units))
    if scale == 0:
        return sign + digits
    digits = digits.rjust(scale + 1, "0")
    whole, frac = digits[:-scale], digits[-scale:].rstrip("0")
    return f"{sign}{whole}.{frac}" if frac else sign + whole
