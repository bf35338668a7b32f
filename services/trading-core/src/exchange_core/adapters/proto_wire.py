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


# -- Appending writers: a field's pieces go into the caller's list (joined once by the
# caller), no intermediate bytes per field. ``key`` is the field key as an int
# ((number << 3) | wire type); for keys and lengths/values below 128 the key byte and the
# one-byte varint after it come pre-joined from a table.
_PAIRS: Final = [[bytes((key, n)) for n in range(128)] for key in range(128)]


def _key_bytes(key: int) -> bytes:
    return _SMALL[key] if key < _SMALL_MAX else _encode(key)


def head(key: int, n: int) -> bytes:
    """A field's key and the varint after it (a length or a value) as one piece."""
    if key < 128 and 0 <= n < 128:
        return _PAIRS[key][n]
    return _key_bytes(key) + varint(n)


def put_string(out: list[bytes], key: int, text: str) -> int:
    """``string_field`` appended to ``out``; returns the bytes appended (0 for "")."""
    if not text:
        return 0
    data = text.encode()
    field_head = head(key, len(data))
    out.append(field_head)
    out.append(data)
    return len(field_head) + len(data)


def put_uint(out: list[bytes], key: int, value: int) -> int:
    """``uint_field`` appended to ``out``; returns the bytes appended (0 for 0)."""
    if not value:
        return 0
    field = head(key, value)
    out.append(field)
    return len(field)
