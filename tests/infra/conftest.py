"""Fixtures for the stack tests: a private stack directory on free loopback ports."""

import os
import random
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK_VARS = (
    "STACK_DIR", "LEDGER_DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_CONTROLLER_PORT", "S3_ENDPOINT_URL", "S3_SIDE_PORT_BASE", "CHDB_PATH",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    found: list[int] = []
    while len(found) < count:
        port = random.randint(20000, 29999)
        if port not in found and _free(port):
            found.append(port)
    return found


def _free_block(size: int) -> int:
    """A base whose ``size`` ports and SeaweedFS's admin gRPC port (base+7+10000) are free."""
    while True:
        base = random.randint(40000, 49000)
        if all(_free(base + i) for i in range(size)) and _free(base + 7 + 10000):
            return base


@dataclass
class PrivateStack:
    """``scripts/stack.sh`` pointed at its own directory and ports, nothing shared."""

    dir: Path
    env: dict[str, str]

    def run(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(REPO / "scripts/stack.sh"), *args], env=self.env, capture_output=True,
            text=True, timeout=timeout_s, check=False,
        )

    def markers(self) -> list[str]:
        """Strings that a server of this stack has in its command line: its directory, or
        (Redis rewrites its argv to ``redis-server host:port``) its address."""
        redis = self.env["REDIS_URL"].removeprefix("redis://").split("/")[0]
        return [str(self.dir), f"redis-server {redis}"]

    def processes(self) -> list[str]:
        """Command lines of live processes that belong to this stack."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                raw = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            cmd = raw.replace(b"\0", b" ").decode(errors="replace")
            if any(marker in cmd for marker in self.markers()):
                found.append(f"{proc.name}: {cmd.strip()}")
        return found


@pytest.fixture
def private_stack() -> Iterator[PrivateStack]:
    # Not pytest's tmp_path: it is private to root (0700), and PostgreSQL runs as the
    # postgres user, who must be able to reach its data directory.
    top = Path(tempfile.mkdtemp(prefix="exchange-stack-test-", dir="/tmp"))
    top.chmod(0o755)
    pg, redis_port, kafka, controller, s3 = _free_ports(5)
    stack_dir = top / ".stack"
    env = {k: v for k, v in os.environ.items() if k not in STACK_VARS}
    env.update({
        "STACK_DIR": str(stack_dir),
        "LEDGER_DATABASE_URL": f"postgresql://exchange:exchange@127.0.0.1:{pg}/exchange",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "KAFKA_CONTROLLER_PORT": str(controller),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
        "S3_SIDE_PORT_BASE": str(_free_block(9)),
    })
    yield PrivateStack(stack_dir, env)
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def unset_stack_env() -> dict[str, str]:
    """The current environment without any stack variable (as on a fresh shell)."""
    return {k: v for k, v in os.environ.items() if k not in STACK_VARS}
