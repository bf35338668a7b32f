"""Processes the stack owns: pid files, identity checks, bounded waits and stops.

A pid file alone is not proof of ownership (pids are reused), so before signalling a pid
we check that its command line still carries a marker unique to this stack (its data
directory or config path). A process that does not match is never touched.
"""

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from stack.errors import StackError

POLL_S = 0.1


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not text or not text[0].strip().isdigit():
        return None
    return int(text[0].strip())


def write_pid(pid_file: Path, pid: int) -> None:
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(pid_file)


def command_line(pid: int) -> str | None:
    """The process's argv joined by spaces, or None when it is gone (or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if not raw:
        return None  # zombie: exited, not reaped yet
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def owned_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` if that process is alive and its command line has ``marker``."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    cmd = command_line(pid)
    if cmd is None or marker not in cmd:
        return None
    return pid


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    log: Path | None,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``ready`` until it holds; fail naming the log when time runs out or it died."""
    deadline = time.monotonic() + timeout_s
    hint = f"; read {log}" if log is not None else ""
    while True:
        if ready():
            return
        if alive is not None and not alive():
            raise StackError(f"{what} exited during start-up{hint}")
        if time.monotonic() >= deadline:
            raise StackError(f"{what} not ready after {timeout_s:.0f}s{hint}")
        time.sleep(POLL_S)


def stop_pid(pid: int, marker: str, *, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> str:
    """Signal ``pid`` (if still ours), wait bounded, SIGKILL as last resort; say what happened."""
    if not _matches(pid, marker):
        return "not running"
    os.kill(pid, sig)
    if _wait_gone(pid, marker, timeout_s):
        return f"stopped ({signal.Signals(sig).name})"
    os.kill(pid, signal.SIGKILL)
    if _wait_gone(pid, marker, 10.0):
        return f"killed (SIGKILL after {timeout_s:.0f}s)"
    raise StackError(f"pid {pid} survived SIGKILL")


def _matches(pid: int, marker: str) -> bool:
    cmd = command_line(pid)
    return cmd is not None and marker in cmd


def _wait_gone(pid: int, marker: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not _matches(pid, marker):
            return True
        time.sleep(POLL_S)
    return False


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
