import logging
from pathlib import Path

import pytest

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.wal_frame import RecordType, encode_frame
from exchange_core.adapters.wal_reader import read_entries, repair_tail
from exchange_core.adapters.wal_segment import (
    WalCorruptionError,
    complete_prefix_bytes,
    header_frame,
    readable_bytes,
    scan_segment,
    segment_name,
)


def _command(seq: int) -> bytes:
    record = wal_pb2.SequencedCommand(seq=seq, ts_ns=seq, epoch=1)
    record.set_symbol_mode.symbol = f"S{seq}"
    return encode_frame(RecordType.COMMAND, record.SerializeToString())


def _segment(directory: Path, first_seq: int, seqs: range) -> Path:
    """A segment of whole groups: each command record followed by its events record."""
    path = directory / segment_name(first_seq)
    path.write_bytes(header_frame("s", first_seq, 1)
                     + b"".join(_command(s) + _events(s) for s in seqs))
    return path


def test_a_clean_segment_scans_without_a_tail(tmp_path: Path) -> None:
    scan = scan_segment(_segment(tmp_path, 1, range(1, 6)), is_last=True)
    assert not scan.is_torn
    assert [f.record_type for f in scan.frames].count(RecordType.COMMAND) == 5


def test_a_torn_tail_is_truncated_on_open_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _segment(tmp_path, 1, range(1, 6))
    intact = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(_command(6)[:-4])  # the crash cut the last record short
    with caplog.at_level(logging.WARNING):
        repair_tail(tmp_path)
    assert path.stat().st_size == intact
    assert "torn tail truncated" in caplog.text and "incomplete payload" in caplog.text
    assert [e.seq for e in read_entries(tmp_path)] == [1, 2, 3, 4, 5]


def test_a_zero_filled_tail_is_truncated(tmp_path: Path) -> None:
    path = _segment(tmp_path, 1, range(1, 4))
    intact = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(bytes(4096))
    repair_tail(tmp_path)
    assert path.stat().st_size == intact


def test_a_corrupt_record_before_valid_ones_is_a_hard_error_naming_the_offset(
    tmp_path: Path,
) -> None:
    path = _segment(tmp_path, 1, range(1, 6))
    data = bytearray(path.read_bytes())
    second = len(header_frame("s", 1, 1)) + len(_command(1)) + len(_events(1))
    data[second + 12] ^= 0xFF  # inside record 2's payload; records 3..5 stay valid
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorruptionError) as caught:
        repair_tail(tmp_path)
    assert caught.value.offset == second
    assert "CRC mismatch" in str(caught.value) and "valid record follows" in str(caught.value)
    assert path.stat().st_size == len(data)  # nothing was truncated


def test_a_bad_tail_in_a_sealed_segment_is_corruption_not_a_torn_tail(tmp_path: Path) -> None:
    old = _segment(tmp_path, 1, range(1, 4))
    with open(old, "ab") as handle:
        handle.write(_command(4)[:-2])
    _segment(tmp_path, 4, range(4, 6))
    with pytest.raises(WalCorruptionError, match="sealed segment"):
        list(read_entries(tmp_path))


def test_a_gap_in_seqs_is_detected(tmp_path: Path) -> None:
    _segment(tmp_path, 1, range(1, 3))
    _segment(tmp_path, 4, range(4, 6))  # seq 3 is missing
    with pytest.raises(WalCorruptionError, match="seq 4 where 3 was expected"):
        list(read_entries(tmp_path))


def test_reading_after_a_seq_starts_in_the_right_segment(tmp_path: Path) -> None:
    _segment(tmp_path, 1, range(1, 4))
    _segment(tmp_path, 4, range(4, 8))
    assert [e.seq for e in read_entries(tmp_path, after_seq=5)] == [6, 7]


def _events(seq: int) -> bytes:
    return encode_frame(RecordType.EVENTS, wal_pb2.CommandEvents(seq=seq).SerializeToString())


def _batch(first_seq: int, count: int) -> bytes:
    record = wal_pb2.SequencedBatch(first_seq=first_seq, ts_ns=1, epoch=1, count=count)
    return encode_frame(RecordType.COMMAND_BATCH, record.SerializeToString())


def _checkpoint(seq: int) -> bytes:
    record = wal_pb2.Checkpoint(seq=seq, state_hash=bytes(32), epoch=1)
    return encode_frame(RecordType.CHECKPOINT, record.SerializeToString())


def _grouped(directory: Path, tail: bytes) -> tuple[Path, int]:
    """A segment of two whole groups (commands 1, 2) plus ``tail``; and where it starts."""
    whole = (header_frame("s", 1, 1) + _command(1) + _events(1) + _command(2) + _events(2)
             + _checkpoint(2))
    path = directory / segment_name(1)
    path.write_bytes(whole + tail)
    return path, len(whole)


@pytest.mark.parametrize("tail_events", [0, 1, 2])
def test_a_batch_cut_between_its_events_records_ends_the_log_before_the_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tail_events: int
) -> None:
    # A write cut after whole frames: the batch of 3 (seqs 3..5) lost some events records.
    tail = _batch(3, 3) + b"".join(_events(s) for s in range(3, 3 + tail_events))
    path, whole = _grouped(tmp_path, tail)
    scan = scan_segment(path, is_last=True)
    assert scan.valid_bytes == whole and scan.is_torn
    assert f"{tail_events} of its 3 events records" in (scan.tail_reason or "")
    assert complete_prefix_bytes(path.read_bytes()) == whole
    assert readable_bytes(path) == whole
    assert [e.seq for e in read_entries(tmp_path)] == [1, 2, 2]  # 2 commands, a checkpoint
    with caplog.at_level(logging.WARNING):
        repair_tail(tmp_path)
    assert path.stat().st_size == whole
    assert "torn tail truncated" in caplog.text and "write cut inside the group" in caplog.text


def test_a_command_whose_events_record_is_torn_is_cut_with_it(tmp_path: Path) -> None:
    path, whole = _grouped(tmp_path, _command(3) + _events(3)[:-1])
    scan = scan_segment(path, is_last=True)
    assert scan.valid_bytes == whole
    assert "incomplete payload" in (scan.tail_reason or "")
    assert "0 of its 1 events records" in (scan.tail_reason or "")
    assert [f.offset for f in scan.frames][-1] < whole
    repair_tail(tmp_path)
    assert path.stat().st_size == whole


def test_whole_groups_are_not_cut(tmp_path: Path) -> None:
    path, _ = _grouped(tmp_path, _batch(3, 2) + _events(3) + _events(4) + _checkpoint(4))
    size = path.stat().st_size
    assert complete_prefix_bytes(path.read_bytes()) == size == readable_bytes(path)
    assert not scan_segment(path, is_last=True).is_torn
    repair_tail(tmp_path)
    assert path.stat().st_size == size


def test_a_group_cut_short_in_a_sealed_segment_is_corruption(tmp_path: Path) -> None:
    _grouped(tmp_path, _command(3))
    (tmp_path / segment_name(4)).write_bytes(header_frame("s", 4, 1) + _command(4) + _events(4))
    with pytest.raises(WalCorruptionError, match=r"0 of its 1 events records.*sealed segment"):
        list(read_entries(tmp_path))
