"""The outbox's compiled WAL read gives the messages protobuf parsing gives, in order,
never past the durable seq, and waits at a frame that is not fully written."""

import threading
from pathlib import Path

import pytest

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.event_frames import Scan, scan_events
from exchange_core.adapters.event_tailer import EventTailer
from exchange_core.adapters.wal_frame import MAX_PAYLOAD_BYTES, TYPE_CRC, RecordType, encode_frame
from exchange_core.adapters.wal_reader import WalTailer
from exchange_core.adapters.wal_writer import WalWriter

TS_NS = 1_764_000_000_123_456_789


def _events(seq: int, ts_ns: int = TS_NS) -> wal_pb2.CommandEvents:
    return wal_pb2.CommandEvents(seq=seq, epoch=3, ts_ns=ts_ns + seq, events=[
        wal_pb2.OutboxEvent(topic=f"topic-{i % 3}", key=f"key-{seq}-{i}",
                            event_id=f"e{seq}.{i}", payload=bytes([seq % 256, i]) * (i + seq))
        for i in range(seq % 4)])


def _frames(seq: int) -> bytes:
    command = wal_pb2.SequencedCommand(seq=seq, ts_ns=TS_NS + seq, epoch=3)
    command.cancel_all.symbol = "BTC-USDT"
    return (encode_frame(RecordType.COMMAND, command.SerializeToString())
            + encode_frame(RecordType.EVENTS, _events(seq).SerializeToString()))


def _expected(records: list[wal_pb2.CommandEvents]) -> list[tuple[str, bytes, bytes, int]]:
    return [(e.topic, e.payload, e.key.encode(), r.ts_ns // 1_000_000)
            for r in records for e in r.events]


def _wal(tmp_path: Path, count: int, segment_max_bytes: int = 64 << 20) -> None:
    done = threading.Event()
    writer = WalWriter(tmp_path, shard_id="s", next_seq=1, epoch=3,
                       on_durable=lambda seq: done.set() if seq == count else None,
                       segment_max_bytes=segment_max_bytes)
    writer.start()
    for seq in range(1, count + 1):
        writer.append(seq, _frames(seq))
    writer.close()


def test_messages_are_what_protobuf_parsing_of_the_records_gives(tmp_path: Path) -> None:
    _wal(tmp_path, 120, segment_max_bytes=3_000)
    reference = WalTailer(tmp_path, 0, lambda: 120).poll(1000)
    polled = EventTailer(tmp_path, 0, lambda: 120, chunk_bytes=900).poll(1000)
    assert polled.records == 120 and polled.last_seq == 120
    assert polled.messages == _expected(reference)
    assert len(polled.messages) == sum(seq % 4 for seq in range(1, 121))


def test_the_tailer_never_reads_past_the_durable_seq_and_resumes_after_it(
    tmp_path: Path,
) -> None:
    _wal(tmp_path, 100, segment_max_bytes=1_500)
    limit = [40]
    tailer = EventTailer(tmp_path, 0, lambda: limit[0], chunk_bytes=700)
    first = tailer.poll(1000)
    assert (first.records, first.last_seq) == (40, 40)
    limit[0] = 100
    second, third = tailer.poll(25), tailer.poll(1000)
    assert (second.records, second.last_seq, third.records, third.last_seq) == (25, 65, 35, 100)
    reference = WalTailer(tmp_path, 0, lambda: 100).poll(1000)
    assert first.messages + second.messages + third.messages == _expected(reference)
    later = EventTailer(tmp_path, 90, lambda: 100).poll(1000)
    assert later.messages == _expected(reference[90:])


def test_a_frame_larger_than_a_chunk_is_read_whole(tmp_path: Path) -> None:
    _wal(tmp_path, 30)
    polled = EventTailer(tmp_path, 0, lambda: 30, chunk_bytes=64).poll(1000)
    assert polled.records == 30
    assert polled.messages == _expected(WalTailer(tmp_path, 0, lambda: 30).poll(1000))


@pytest.mark.parametrize("cut", [1, 5, 9, 20])
def test_a_partly_written_frame_is_not_read_until_complete(cut: int) -> None:
    data = _frames(1) + _frames(2)
    whole = _scan(data)
    torn = _scan(data[:-cut])
    assert (whole.records, whole.consumed) == (2, len(data))
    assert (torn.records, torn.last_seq) == (1, 1)
    assert torn.consumed == len(data) - len(
        encode_frame(RecordType.EVENTS, _events(2).SerializeToString()))  # up to events 2


def test_a_record_with_fields_in_another_order_and_unknown_ones_reads_the_same() -> None:
    event = wal_pb2.OutboxEvent(topic="t", key="k", event_id="id", payload=b"\x00body")
    body = event.SerializeToString()
    reordered = (b"\x08\x07" + b"\x20" + _varint(TS_NS) + b"\x1a" + _varint(len(body)) + body
                 + b"\x10\x03" + b"\x28\x2a" + b"\x35\x01\x02\x03\x04")  # unknown: 5, 6
    data = encode_frame(RecordType.EVENTS, reordered)
    assert wal_pb2.CommandEvents.FromString(reordered).events[0].payload == b"\x00body"
    scan = _scan(data)
    assert scan.messages == [("t", b"\x00body", b"k", TS_NS // 1_000_000)]


def test_a_malformed_record_that_passes_its_crc_is_an_error_not_a_guess() -> None:
    data = encode_frame(RecordType.EVENTS, b"\x08\x01\x1a\x05\x0a\x09")
    with pytest.raises(ValueError, match="malformed"):
        _scan(data)


def _scan(data: bytes) -> Scan:
    return scan_events(data, 0, 10, max_records=100, type_crc=TYPE_CRC,
                       max_payload=MAX_PAYLOAD_BYTES, topics={})


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def test_a_hole_in_the_event_seqs_past_a_known_position_stops_the_scan() -> None:
    data = _frames(1) + _frames(2) + _frames(4)  # seq 3's events are missing
    with pytest.raises(ValueError, match=r"seqs 3\.\.3 have none"):
        _scan(data)
    # Before the hole everything is read; from an unknown position (0) the first record
    # found is where publishing starts.
    assert _scan(_frames(1) + _frames(2)).last_seq == 2
    assert _scan(_frames(5) + _frames(6)).last_seq == 6
