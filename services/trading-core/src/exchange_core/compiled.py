"""The mypyc-compiled build of the core's hot modules, used only while it is fresh.

``scripts/build_native.py`` (run by ``scripts/setup.sh``) compiles ``MODULES`` with mypyc
into ``build/native-core`` (gitignored) and writes a stamp: the sha256 of their sources
plus the Python and mypy versions. When ``exchange_core.domain`` (or ``.adapters``) is
imported it calls ``activate``, which puts the build first on the package's search path
when the stamp matches the sources on disk. Otherwise (never built, a source edited since, another
interpreter, or ``EXCHANGE_CORE_NATIVE=0``) the pure-Python modules load and ``STATUS``
says why. A stale build is never loaded: the code that runs is the source you read.
See docs/adr/0003-compiled-domain.md.
"""

import hashlib
import os
import sys
from pathlib import Path

# The hot path of Engine.apply (and what it allocates) and of turning its events into
# bytes; everything else stays interpreted. Paths are relative to the exchange_core package.
MODULES = (
    "domain/account", "domain/book", "domain/digest", "domain/engine", "domain/events",
    "domain/fees", "domain/lifecycle", "domain/market", "domain/market_state", "domain/matching",
    "domain/order", "domain/record", "domain/results", "domain/state_hash", "domain/validation",
    "adapters/proto_wire", "adapters/event_mapping", "adapters/command_mapping",
    "adapters/reply_mapping", "adapters/wal_journal", "adapters/request_wire",
    "adapters/frame_scan",
    "adapters/segment_replay",
    "adapters/event_frames", "adapters/batch_staging",
)
STAMP_NAME = "SOURCES.sha256"
PACKAGE_DIR = Path(__file__).resolve().parent

STATUS = "pure: not activated"


def default_build_dir() -> Path:
    """<repo>/build/native-core (this file is <repo>/services/trading-core/src/...)."""
    return Path(__file__).resolve().parents[4] / "build" / "native-core"


def build_dir() -> Path:
    override = os.environ.get("EXCHANGE_CORE_NATIVE_DIR", "")
    return Path(override) if override else default_build_dir()


def source_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """What a build was made from: the modules' sources and the toolchain versions."""
    h = hashlib.sha256()
    h.update(f"python {sys.version}\n".encode())
    try:
        from mypy.version import __version__ as mypy_version  # noqa: PLC0415
    except ImportError:  # no mypy: no build could be checked, so none is used
        mypy_version = "absent"
    h.update(f"mypy {mypy_version}\n".encode())
    for name in MODULES:
        h.update(name.encode() + b"\0" + (package_dir / f"{name}.py").read_bytes() + b"\0")
    return h.hexdigest()


def freshness(root: Path) -> str:
    """"" when the build under ``root`` matches the sources, else the reason it does not."""
    stamp = root / STAMP_NAME
    if not stamp.is_file():
        return f"no build at {root} (run scripts/build_native.py)"
    if stamp.read_text().strip() != source_digest():
        return f"build at {root} is stale (sources or toolchain changed since; rerun it)"
    return ""


def activate(package_path: list[str], package: str) -> str:
    """Put a fresh build first on ``exchange_core.<package>``'s path; return the status."""
    global STATUS  # noqa: PLW0603 - set once, at the package's first import
    if os.environ.get("EXCHANGE_CORE_NATIVE", "1") == "0":
        STATUS = "pure: EXCHANGE_CORE_NATIVE=0"
        return STATUS
    root = build_dir()
    reason = freshness(root)
    if reason:
        STATUS = f"pure: {reason}"
        return STATUS
    if str(root) not in sys.path:
        sys.path.append(str(root))  # the shared library of the compiled group
    package_path.insert(0, str(root / "exchange_core" / package))
    STATUS = f"native: mypyc build at {root}"
    return STATUS
