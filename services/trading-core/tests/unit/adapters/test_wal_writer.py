import logging
import os
import shutil
import threading
from pathlib import Path

import pytest

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.wal_frame import RecordType, encode_frame
from exchange_core.adapters.wal_reader import WalTailer, read_entries, repair_tail
from exchange_core.adapters.wal_segment import (
    ZEROS_REASON,
    WalCorruptionError,
    header_frame,
    list_segments,
    scan_segment,
    segment_name,
)
from exchange_core.adapters.wal_writer import SPARE_NAME, WalClosedError, WalWriter


def _frames(seq: int) -> bytes:
    command = wal_pb2.SequencedCommand(seq=seq, ts_ns=seq, epoch=1)
    command.cancel_all.symbol = "BTC-USDT"
    events = wal_pb2.CommandEvents(seq=seq, epoch=1, ts_ns=seq, events=[
        wal_pb2.OutboxEvent(topic="t", key="k", event_id=f"e{seq}", payload=b"p")])
    return (encode_frame(RecordType.COMMAND, command.SerializeToString())
            + encode_frame(RecordType.EVENTS, events.SerializeToString()))


class _Durable:
    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.batches: list[int] = []
        self.done = threading.Event()

    def on_durable(self, seq: int) -> None:
        self.seqs.append(seq)

    def observe(self, seconds: float, commands: int, size: int) -> None:
        self.batches.append(commands)


@pytest.fixture(params=[False, True], ids=["plain", "preallocated"])
def preallocate(request: pytest.FixtureRequest) -> bool:
    """The writer's tests run on plain and on preallocated segments (what serve runs)."""
    return bool(request.param)


def _writer(tmp_path: Path, durable: _Durable, **kwargs: object) -> WalWriter:
    return WalWriter(tmp_path, shard_id="s", next_seq=1, epoch=1, on_durable=durable.on_durable,
                     observe_fsync=durable.observe, **kwargs)  # type: ignore[arg-type]


def test_appends_become_durable_in_order_and_read_back(tmp_path: Path, preallocate: bool) -> None:
    durable = _Durable()
    writer = _writer(tmp_path, durable, preallocate=preallocate)
    writer.start()
    for seq in range(1, 501):
        writer.append(seq, _frames(seq))
    writer.close()
    assert durable.seqs == sorted(durable.seqs) and durable.seqs[-1] == 500
    assert writer.durable_seq == 500
    assert [e.seq for e in read_entries(tmp_path)] == list(range(1, 501))


def test_commands_queued_during_an_fsync_share_the_next_one(tmp_path: Path,
                                                            preallocate: bool) -> None:
    durable = _Durable()
    writer = _writer(tmp_path, durable, preallocate=preallocate)
    for seq in range(1, 201):  # queued before the writer thread runs: one batch
        writer.append(seq, _frames(seq))
    writer.start()
    writer.close()
    assert durable.batches == [200]
    assert durable.seqs == [200]


def test_segments_rotate_at_the_size_limit_without_splitting_a_batch(
        tmp_path: Path, preallocate: bool) -> None:
    durable = _Durable()
    writer = _writer(tmp_path, durable, segment_max_bytes=2_000,
                     preallocate=preallocate)
    writer.start()
    for seq in range(1, 301):
        writer.append(seq, _frames(seq))
        if seq % 10 == 0:
            while writer.durable_seq < seq:
                threading.Event().wait(0.001)
    writer.close()
    assert len(list_segments(tmp_path)) > 3
    assert [e.seq for e in read_entries(tmp_path)] == list(range(1, 301))


def test_a_writer_whose_lease_is_gone_refuses_to_write(tmp_path: Path, preallocate: bool) -> None:
    durable = _Durable()
    reasons: list[str] = []
    writer = _writer(tmp_path, durable, is_fence_valid=lambda: False, on_stop=reasons.append,
                     preallocate=preallocate)
    writer.start()
    writer.append(1, _frames(1))
    writer.close()
    assert durable.seqs == [] and list(read_entries(tmp_path)) == []
    assert "stale epoch" in reasons[0]
    with pytest.raises(WalClosedError):
        writer.append(2, _frames(2))


def test_the_tailer_never_reads_past_the_durable_seq(tmp_path: Path, preallocate: bool) -> None:
    durable = _Durable()
    writer = _writer(tmp_path, durable, segment_max_bytes=1_500,
                     preallocate=preallocate)
    writer.start()
    for seq in range(1, 101):
        writer.append(seq, _frames(seq))
    writer.close()
    limit = [40]
    tailer = WalTailer(tmp_path, 0, lambda: limit[0], chunk_bytes=700)
    first = [r.seq for r in tailer.poll(1000)]
    assert first == list(range(1, 41))
    limit[0] = 100
    rest = [r.seq for r in tailer.poll(25)] + [r.seq for r in tailer.poll(1000)]
    assert rest == list(range(41, 101))
    assert WalTailer(tmp_path, 90, lambda: 100).poll(1000)[0].seq == 91

# -- Preallocated segments: zeros written ahead, records overwrite them in place.
# What must hold: nothing reads the zeros as records, a sealed segment ends at its last
# frame, a crash image (the files as the page cache holds them, what kill -9 leaves) recovers
# every durable record with the zeros taken as the end of the log, and zeros anywhere a
# torn tail cannot be are still corruption.


def _preallocated(wal: Path, segment_max_bytes: int = 64 * 1024) -> WalWriter:
    wal.mkdir(exist_ok=True)
    return WalWriter(wal, shard_id="s", next_seq=1, epoch=1, on_durable=lambda seq: None,
                     segment_max_bytes=segment_max_bytes, preallocate=True)


def _write_durably(writer: WalWriter, seqs: range) -> None:
    for seq in seqs:
        writer.append(seq, _frames(seq))
    for _ in range(5_000):  # bounded wait for the fsync that holds the last one
        if writer.durable_seq >= seqs[-1]:
            return
        threading.Event().wait(0.001)
    raise AssertionError(f"not durable: {seqs[-1]} (durable {writer.durable_seq})")


def test_an_open_segment_is_full_size_and_close_cuts_it_to_its_last_frame(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    writer = _preallocated(wal)
    writer.start()
    _write_durably(writer, range(1, 51))
    (segment,) = list_segments(wal)
    assert segment.stat().st_size > 64 * 1024  # zeros ahead of the records
    writer.close()
    scan = scan_segment(segment, is_last=True)
    assert not scan.is_torn and scan.valid_bytes == segment.stat().st_size
    assert [e.seq for e in read_entries(wal)] == list(range(1, 51))


def test_sealed_segments_end_at_their_last_frame_and_the_spare_is_no_segment(
        tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    writer = _preallocated(wal, segment_max_bytes=2_000)
    writer.start()
    for start in range(1, 301, 10):
        _write_durably(writer, range(start, start + 10))
    segments = list_segments(wal)
    assert len(segments) > 5
    assert all(p.name.startswith("wal-0") for p in segments)
    for sealed in segments[:-1]:
        scan = scan_segment(sealed, is_last=False)  # raises on zeros in a sealed segment
        assert scan.valid_bytes == sealed.stat().st_size
    writer.close()
    assert (wal / SPARE_NAME).exists()  # ready for the next rotation (or the next run)
    assert [e.seq for e in read_entries(wal)] == list(range(1, 301))


def test_a_crash_image_recovers_every_durable_record_and_trims_the_zeros(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wal = tmp_path / "wal"
    writer = _preallocated(wal)  # 64 KiB: the 120 records stay in the first segment
    writer.start()
    _write_durably(writer, range(1, 121))
    image = tmp_path / "image"
    image.mkdir()
    for segment in list_segments(wal):  # the files as kill -9 leaves them: no close, no trim
        shutil.copyfile(segment, image / segment.name)
    writer.close()
    newest = list_segments(image)[-1]
    assert scan_segment(newest, is_last=True).tail_reason == ZEROS_REASON
    with caplog.at_level(logging.INFO):
        repair_tail(image)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("preallocated" in r.getMessage() for r in caplog.records)
    assert not scan_segment(newest, is_last=True).is_torn
    assert [e.seq for e in read_entries(image)] == list(range(1, 121))


def test_zeros_are_the_end_only_where_a_torn_tail_may_be(tmp_path: Path) -> None:
    header = header_frame("s", 1, 1)
    body = header + _frames(1)
    sealed = tmp_path / segment_name(1)
    sealed.write_bytes(body + bytes(5_000))
    with pytest.raises(WalCorruptionError, match="sealed segment"):
        scan_segment(sealed, is_last=False)
    assert scan_segment(sealed, is_last=True).tail_reason == ZEROS_REASON
    # A hole of zeros with a valid record after it is damage, not unused space.
    holed = tmp_path / segment_name(2)
    holed.write_bytes(body + bytes(300) + _frames(2) + bytes(5_000))
    with pytest.raises(WalCorruptionError, match="a valid record follows"):
        scan_segment(holed, is_last=True)
    # A record cut short before the zeros: a torn tail, named as such.
    torn = tmp_path / segment_name(3)
    torn.write_bytes(body + _frames(2)[:20] + bytes(5_000))
    scan = scan_segment(torn, is_last=True)
    assert scan.is_torn and scan.tail_reason != ZEROS_REASON
    assert scan.valid_bytes == len(body)


def test_a_tailer_follows_a_preallocated_segment_as_it_fills_and_rotates(
        tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    writer = _preallocated(wal, segment_max_bytes=3_000)
    writer.start()
    tailer = WalTailer(wal, 0, lambda: writer.durable_seq, chunk_bytes=4_096)
    seen: list[int] = []
    for start in range(1, 201, 20):
        _write_durably(writer, range(start, start + 20))
        for _ in range(3):  # the zeros after the last record are "not written yet"
            seen += [r.seq for r in tailer.poll(1_000)]
    writer.close()
    seen += [r.seq for r in tailer.poll(1_000)]
    assert seen == list(range(1, 201))


def test_a_new_writer_takes_the_spare_left_by_the_previous_one(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    first = _preallocated(wal)
    first.start()
    _write_durably(first, range(1, 11))
    first.close()
    (wal / (SPARE_NAME + ".partial")).write_bytes(b"left by a crash mid-fill")
    spare = (wal / SPARE_NAME).stat().st_ino
    second = WalWriter(wal, shard_id="s", next_seq=11, epoch=2, on_durable=lambda seq: None,
                       segment_max_bytes=64 * 1024, preallocate=True)
    assert list_segments(wal)[-1].stat().st_ino == spare  # renamed into place, not refilled
    second.start()
    _write_durably(second, range(11, 21))
    second.close()  # waits for the new spare: written afresh, the crash's leftover gone
    assert not (wal / (SPARE_NAME + ".partial")).exists()
    assert (wal / SPARE_NAME).stat().st_ino != spare
    assert [e.seq for e in read_entries(wal)] == list(range(1, 21))


def test_nothing_is_released_before_the_fdatasync_that_holds_it_returns(
    tmp_path: Path, preallocate: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit line: ``on_durable`` (replies, events) only after fdatasync returns."""
    real = os.fdatasync
    entered, release = threading.Event(), threading.Event()
    log: list[str] = []

    def held_fdatasync(fd: int) -> None:
        log.append("fdatasync")
        entered.set()
        assert release.wait(10)
        real(fd)
        log.append("fdatasync returned")

    durable = _Durable()
    writer = _writer(tmp_path, durable, preallocate=preallocate,
                     on_stop=log.append)
    monkeypatch.setattr(os, "fdatasync", held_fdatasync)
    writer.start()
    writer.append(1, _frames(1))
    assert entered.wait(10)
    for seq in range(2, 11):
        writer.append(seq, _frames(seq))  # queued while the fsync runs
    assert durable.seqs == [] and writer.durable_seq == 0  # the fsync has not returned
    release.set()
    writer.close()
    assert durable.seqs == [1, 10]  # group commit: one fsync covered the 9 queued meanwhile
    assert durable.batches == [1, 9]
    assert log == ["fdatasync", "fdatasync returned"] * 2


def test_a_failed_fdatasync_releases_nothing_and_stops_the_writer(
    tmp_path: Path, preallocate: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fdatasync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    durable = _Durable()
    reasons: list[str] = []
    writer = _writer(tmp_path, durable, preallocate=preallocate, on_stop=reasons.append)
    monkeypatch.setattr(os, "fdatasync", failing_fdatasync)
    writer.start()
    writer.append(1, _frames(1))
    writer.close()
    assert durable.seqs == [] and writer.durable_seq == 0
    assert "WAL write failed" in reasons[0] and "Input/output error" in reasons[0]
    with pytest.raises(WalClosedError):
        writer.append(2, _frames(2))


def test_a_lease_that_runs_out_during_the_write_releases_nothing(
    tmp_path: Path, preallocate: bool
) -> None:
    checks: list[bool] = []

    def fence() -> bool:  # valid before the write, expired once the fsync returns
        checks.append(not checks)
        return checks[-1]

    durable = _Durable()
    reasons: list[str] = []
    writer = _writer(tmp_path, durable, is_fence_valid=fence, on_stop=reasons.append,
                     preallocate=preallocate)
    writer.start()
    writer.append(1, _frames(1))
    writer.close()
    assert checks == [True, False]
    assert durable.seqs == [] and writer.durable_seq == 0
    assert "lease lost during the write" in reasons[0]
