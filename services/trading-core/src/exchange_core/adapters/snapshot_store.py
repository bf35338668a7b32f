"""Snapshot files: atomic (temp, fsync, rename, fsync dir), checksummed, newest valid wins.

Layout of ``snap-<seq>.snap``: magic, u32 header length, SnapshotHeader, u64 image
length, engine image, u32 CRC32C of everything before it. A file that fails its checks
is logged and skipped: recovery falls back to the next older snapshot and a longer WAL
tail.
"""

import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import crc32c
from google.protobuf.message import DecodeError

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.wal_segment import fsync_dir

log = logging.getLogger(__name__)

MAGIC = b"XCSNAP01"
SNAPSHOT_FORMAT_VERSION = 1
_NAME = re.compile(r"^snap-(\d{20})\.snap$")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class SnapshotFormatError(Exception):
    """A snapshot file that is truncated, mislabeled or fails its checksum."""


@dataclass(frozen=True)
class Snapshot:
    header: wal_pb2.SnapshotHeader
    image: bytes
    path: Path


def snapshot_name(seq: int) -> str:
    return f"snap-{seq:020d}.snap"


def encode_snapshot(header: wal_pb2.SnapshotHeader, image: bytes) -> bytes:
    head = header.SerializeToString()
    body = MAGIC + _U32.pack(len(head)) + head + _U64.pack(len(image)) + image
    return body + _U32.pack(crc32c.crc32c(body))


def decode_snapshot(data: bytes, path: Path) -> Snapshot:
    if len(data) < len(MAGIC) + 16 or not data.startswith(MAGIC):
        raise SnapshotFormatError(f"{path}: not a snapshot file")
    body, (checksum,) = data[:-4], _U32.unpack(data[-4:])
    if crc32c.crc32c(body) != checksum:
        raise SnapshotFormatError(f"{path}: checksum mismatch")
    offset = len(MAGIC)
    (head_len,) = _U32.unpack_from(body, offset)
    offset += 4
    header = wal_pb2.SnapshotHeader.FromString(body[offset : offset + head_len])
    offset += head_len
    (image_len,) = _U64.unpack_from(body, offset)
    offset += 8
    image = body[offset:]
    if len(image) != image_len:
        raise SnapshotFormatError(f"{path}: image is {len(image)} bytes, header says {image_len}")
    expected_name = snapshot_name(header.seq)
    if path.name != expected_name:
        raise SnapshotFormatError(f"{path}: holds seq {header.seq}, expected {expected_name}")
    return Snapshot(header, image, path)


class SnapshotStore:
    def __init__(self, directory: Path) -> None:
        self._dir = directory
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def directory(self) -> Path:
        return self._dir

    def write(self, header: wal_pb2.SnapshotHeader, image: bytes) -> Path:
        """Write atomically: a reader sees the old set of files or the new one, never half."""
        return self.publish(self.write_temp(header, image))

    def temp_path(self, seq: int, pid: int | None = None) -> Path:
        """Where the image of ``seq`` is written before ``publish`` (named after the
        writing process: a forked writer left over from a killed core never shares it)."""
        return self._dir / f"{snapshot_name(seq)}.{pid or os.getpid()}.tmp"

    def write_temp(self, header: wal_pb2.SnapshotHeader, image: bytes) -> Path:
        """The whole snapshot file under its temp name, fsync'd; no reader looks there."""
        temp = self.temp_path(header.seq)
        data = encode_snapshot(header, image)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return temp

    def publish(self, temp: Path) -> Path:
        """Rename a complete temp file to its snapshot name, durably (rename, fsync dir)."""
        final = self._dir / temp.name.rsplit(".", 2)[0]  # snap-<seq>.snap.<pid>.tmp
        os.rename(temp, final)
        fsync_dir(self._dir)
        return final

    def paths(self) -> list[Path]:
        """Snapshot files, oldest first."""
        found = [(int(m.group(1)), p) for p in self._dir.iterdir() if (m := _NAME.match(p.name))]
        return [p for _, p in sorted(found)]

    def load_newest(self, max_seq: int | None = None) -> Snapshot | None:
        """The newest snapshot that passes its checks (and has seq <= max_seq if given)."""
        for path in reversed(self.paths()):
            try:
                snapshot = decode_snapshot(path.read_bytes(), path)
            except (SnapshotFormatError, OSError, ValueError, DecodeError) as exc:
                log.warning("skipping unreadable snapshot %s: %s", path, exc)
                continue
            if max_seq is not None and snapshot.header.seq > max_seq:
                continue
            return snapshot
        return None

    def prune(self, keep: int) -> list[Path]:
        """Delete all but the newest ``keep`` snapshots (and stray temp files)."""
        removed = []
        for stray in self._dir.glob("*.tmp"):
            stray.unlink(missing_ok=True)
        for path in self.paths()[:-keep] if keep > 0 else []:
            path.unlink(missing_ok=True)
            removed.append(path)
        return removed
