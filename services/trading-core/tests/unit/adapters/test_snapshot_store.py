from pathlib import Path

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.cursor_file import CursorFile
from exchange_core.adapters.snapshot_store import SnapshotStore


def _header(seq: int) -> wal_pb2.SnapshotHeader:
    return wal_pb2.SnapshotHeader(format_version=1, shard_id="s", seq=seq,
                                  state_hash=bytes(32), epoch=1, balance_offsets={0: 7})


def test_the_newest_snapshot_is_loaded_with_its_header(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.write(_header(10), b"ten")
    store.write(_header(20), b"twenty")
    loaded = store.load_newest()
    assert loaded is not None
    assert (loaded.header.seq, loaded.image, dict(loaded.header.balance_offsets)) == (
        20, b"twenty", {0: 7})
    assert not list(tmp_path.glob("*.tmp"))


def test_a_corrupt_newest_snapshot_falls_back_to_the_older_one(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.write(_header(10), b"ten")
    newest = store.write(_header(20), b"twenty")
    data = bytearray(newest.read_bytes())
    data[-10] ^= 0xFF
    newest.write_bytes(bytes(data))
    loaded = store.load_newest()
    assert loaded is not None and loaded.header.seq == 10


def test_a_truncated_or_renamed_snapshot_is_skipped(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    good = store.write(_header(10), b"ten")
    (tmp_path / "snap-00000000000000000030.snap").write_bytes(good.read_bytes()[:20])
    (tmp_path / "snap-00000000000000000040.snap").write_bytes(good.read_bytes())
    loaded = store.load_newest()
    assert loaded is not None and loaded.header.seq == 10


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for seq in (1, 2, 3, 4):
        store.write(_header(seq), b"x")
    store.prune(keep=2)
    assert [p.name[5:25] for p in store.paths()] == [f"{3:020d}", f"{4:020d}"]


def test_the_cursor_survives_a_reopen_and_starts_at_zero(tmp_path: Path) -> None:
    cursor = CursorFile(tmp_path / "outbox.cursor")
    assert cursor.load() == 0
    cursor.store(42)
    assert CursorFile(tmp_path / "outbox.cursor").load() == 42
