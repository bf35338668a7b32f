"""Hand-written varints and fields are byte-for-byte what protobuf writes."""

import pytest

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.proto_wire import (
    bytes_field,
    put_string,
    put_uint,
    string_field,
    uint_field,
    varint,
)

EDGES = [0, 1, 127, 128, 16_383, 16_384, 2**21 - 1, 2**21, 2**28, 2**35 + 3, 2**56 - 1,
         2**62, 2**63 - 1, 1_764_000_000_123_456_789]


@pytest.mark.parametrize("value", EDGES + [v * 7 + 3 for v in range(0, 3_000_000, 9_973)])
def test_a_varint_field_is_what_protobuf_writes(value: int) -> None:
    expected = wal_pb2.Checkpoint(seq=value).SerializeToString()  # uint64 seq = 1
    assert uint_field(b"\x08", value) == expected
    assert (b"\x08" + varint(value) if value else b"") == expected


@pytest.mark.parametrize("value", [-1, -2, -(2**31), -(2**63), -1_764_000_000_123_456_789])
def test_a_negative_int64_is_its_ten_byte_twos_complement(value: int) -> None:
    assert uint_field(b" ", value) == wal_pb2.CommandEvents(ts_ns=value).SerializeToString()
    assert len(varint(value)) == 10


def test_string_and_bytes_fields_match_protobuf() -> None:
    event = wal_pb2.OutboxEvent(topic="t" * 200, key="ключ", payload=b"")
    assert (string_field(b"\n", "t" * 200) + string_field(b"\x12", "ключ")
            + string_field(b"\x1a", "")) == event.SerializeToString()
    assert bytes_field(b"\n", b"") == b"\n\x00"


@pytest.mark.parametrize("key", [8, 10, 24, 122, 127, 130, 200, 2_000])
def test_the_appending_writers_write_what_the_field_functions_return(key: int) -> None:
    """put_string / put_uint (one list, joined once by the caller) against string_field /
    uint_field, across the pre-joined table's edges (key, length or value 127 / 128)."""
    tag = varint(key)
    for text in ("", "a", "ключ", "x" * 126, "x" * 127, "x" * 128, "y" * 300):
        out: list[bytes] = [b"before"]
        size = put_string(out, key, text)
        assert b"".join(out[1:]) == string_field(tag, text) and size == len(string_field(tag, text))
    for value in (0, 1, 127, 128, 255, 16_384, 2**40, -1):
        out = []
        size = put_uint(out, key, value)
        assert b"".join(out) == uint_field(tag, value) and size == len(uint_field(tag, value))
