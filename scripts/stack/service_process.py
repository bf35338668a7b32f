"""The platform's own services (trading-core, ledger-service) as stack-managed processes.

`stack.sh up --services` starts them after the infrastructure, each from the workspace
venv with its environment, stdout/stderr in ``<stack>/logs/<name>.log`` and a pid file;
`down` stops them first (SIGTERM: they drain, fsync and snapshot), before the servers
they depend on.
"""

import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stack import process
from stack.errors import StackError
from stack.server import Status
from stack.settings import Settings

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str  # run as `python -m <module> <args>`
    args: tuple[str, ...]
    port: int  # the port that answers once it is ready
    health_url: str | None = None  # HTTP 200 once ready; otherwise the TCP port
    env: Mapping[str, str] = field(default_factory=dict)
    data_dirs: tuple[Path, ...] = ()


class ServiceProcess:
    def __init__(self, settings: Settings, spec: ServiceSpec) -> None:
        self._s = settings
        self._spec = spec
        self.name = spec.name
        self._python = settings.repo / ".venv" / "bin" / "python"
        self._argv = [str(self._python), "-m", spec.module, *spec.args]
        # Unique to this checkout's venv: a service of another checkout is never touched.
        self._marker = " ".join(self._argv)
        self._pid_file = settings.pid_file(spec.name)
        self._log = settings.log_file(spec.name)

    def _owned_pid(self) -> int | None:
        return process.owned_pid(self._pid_file, self._marker)

    def _ready(self) -> bool:
        if self._spec.health_url is None:
            return process.port_open("127.0.0.1", self._spec.port)
        try:
            with urllib.request.urlopen(self._spec.health_url, timeout=1) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def up(self) -> str:
        if self._owned_pid() is not None:
            return f"{self.name}: already running on port {self._spec.port}"
        if process.port_open("127.0.0.1", self._spec.port):
            raise StackError(
                f"{self.name}: port {self._spec.port} is taken by another process; stop it first"
            )
        for path in (self._s.run_dir, self._s.log_dir, *self._spec.data_dirs):
            path.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self._spec.env}
        with self._log.open("ab") as log:
            child = subprocess.Popen(
                self._argv, cwd=self._s.repo, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        process.write_pid(self._pid_file, child.pid)
        process.wait_until(
            self._ready, timeout_s=START_TIMEOUT_S, what=self.name, log=self._log,
            alive=lambda: child.poll() is None,
        )
        return f"{self.name}: started on port {self._spec.port} (pid {child.pid})"

    def down(self) -> str:
        pid = self._owned_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return f"{self.name}: not running"
        outcome = process.stop_pid(pid, self._marker, sig=signal.SIGTERM, timeout_s=STOP_TIMEOUT_S)
        self._pid_file.unlink(missing_ok=True)
        return f"{self.name}: {outcome}"

    def status(self) -> Status:
        pid = self._owned_pid()
        state = "running" if pid is not None and self._ready() else (
            "starting" if pid is not None else "stopped")
        return Status(self.name, state, pid, f"127.0.0.1:{self._spec.port}", "workspace")
