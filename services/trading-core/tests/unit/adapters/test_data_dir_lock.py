"""One core process per data directory: the LOCK file (flock) refuses a second one."""

import os
from pathlib import Path

import pytest

from exchange_core.adapters.server import _lock_data_dir
from exchange_core.config import Settings


def test_a_second_core_cannot_open_the_same_data_directory(tmp_path: Path) -> None:
    settings = Settings.from_env({"CORE_DATA_DIR": str(tmp_path / "core")})
    held = _lock_data_dir(settings)
    with pytest.raises(RuntimeError, match="used by another core process"):
        _lock_data_dir(settings)
    os.close(held)  # the first one gone (as at its exit), the directory is free again
    os.close(_lock_data_dir(settings))
