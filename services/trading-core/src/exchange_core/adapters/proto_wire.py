"""Protobuf wire format by hand: varints and fields written as bytes.

For the hot paths that write messages the schema fixes (WAL records, event bodies):
protobuf serializes fields in field-number order and omits proto3 defaults, so bytes
built in that order are exactly what the message classes would produce (the tests compare
both). A negative int32/int64/enum is written as its 64-bit two's complement (ten
bytes), as protobuf does.
"""

from typing import Final

_SMALL_MAX: Final = 1 << 14  # values below take one or two bytes: precomputed


def _encode_slow(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL: Final = [_encode_slow(n) for n in range(_SMALL_MAX)]
# A continuation byte (low 7 bits | 0x80) per value of the low 7 bits.
_LOW: Final = [bytes(((n & 0x7F) | 0x80,)) for n in range(128)]


def _encode(value: int) -> bytes:
    """Seven bits per byte from the table, the last two bytes precomputed."""
    if value < 0:
        value += 1 << 64
    if value < _SMALL_MAX << 7:
        return _LOW[value & 0x7F] + _SMALL[value >> 7]
    parts = []
    while value >= _SMALL_MAX:
        parts.append(_LOW[value & 0x7F])
        value >>= 7
    parts.append(_SMALL[value])
    return b"".join(parts)


def varint(value: int) -> bytes:
    """An integer as a base-128 varint (negative: 64-bit two's complement)."""
    if 0 <= value < _SMALL_MAX:
        return _SMALL[value]
    return _encode(value)


def uint_field(tag: bytes, value: int) -> bytes:
    """A varint field (uint, bool, enum or a positive int); zero is omitted, as in proto3."""
    return tag + varint(value) if value else b""


def string_field(tag: bytes, text: str) -> bytes:
    """A length-delimited string field; empty is omitted, as in proto3."""
    if not text:
        return b""
    data = text.encode()
    return tag + varint(len(data)) + data


def bytes_field(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field (bytes or an embedded message), written even when empty."""
    return tag + varint(len(data)) + data
