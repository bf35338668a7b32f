"""A small durable integer (the outbox's publish cursor): atomic replace, fsync'd."""

import os
from pathlib import Path

from exchange_core.adapters.wal_segment import fsync_dir


class CursorFile:
    def __init__(self, path: Path) -> None:
        self._path = path

    def load(self) -> int:
        try:
            text = self._path.read_text().strip()
        except FileNotFoundError:
            return 0
        if not text.isdigit():
            raise ValueError(f"{self._path}: not a cursor: {text!r}")
        return int(text)

    def store(self, value: int) -> None:
        temp = self._path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, f"{value}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, self._path)
        fsync_dir(self._path.parent)
