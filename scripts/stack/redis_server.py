"""Redis: ``redis-server`` daemonized on loopback, append-only file on, pid file ours."""

import shutil
import subprocess
from typing import TYPE_CHECKING

from stack import process
from stack.errors import StackError
from stack.server import Status, VersionBook
from stack.settings import Settings

if TYPE_CHECKING:
    import redis

START_TIMEOUT_S = 20


class RedisServer:
    name = "redis"

    def __init__(self, settings: Settings, versions: VersionBook) -> None:
        self._s = settings
        self._versions = versions
        self._dir = settings.stack_dir / "redis"
        self._pid_file = settings.pid_file(self.name)
        self._log = settings.log_file(self.name)
        # redis-server rewrites its argv to "redis-server 127.0.0.1:<port>".
        self._marker = f"redis-server {settings.redis.host}:{settings.redis.port}"

    @property
    def _address(self) -> str:
        return f"{self._s.redis.host}:{self._s.redis.port}"

    def _owned_pid(self) -> int | None:
        return process.owned_pid(self._pid_file, self._marker)

    def up(self) -> str:
        if self._owned_pid() is not None:
            return f"{self.name}: already running on {self._address}"
        if process.port_open(self._s.redis.host, self._s.redis.port):
            if self._pings():
                return f"{self.name}: reusing the server already on {self._address} (not ours)"
            raise StackError(
                f"{self.name}: port {self._address} is taken by something that is not Redis; "
                "stop it or set REDIS_URL to another port"
            )
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError(f"{self.name}: redis-server not installed; run scripts/setup.sh")
        for path in (self._dir, self._s.run_dir, self._s.log_dir):
            path.mkdir(parents=True, exist_ok=True)
        cmd = [
            binary, "--port", str(self._s.redis.port), "--bind", self._s.redis.host,
            "--dir", str(self._dir), "--daemonize", "yes", "--pidfile", str(self._pid_file),
            "--logfile", str(self._log), "--appendonly", "yes", "--protected-mode", "yes",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
        if done.returncode != 0:
            raise StackError(
                f"{self.name}: redis-server failed: {done.stderr.strip()}; read {self._log}"
            )
        process.wait_until(
            self._pings, timeout_s=START_TIMEOUT_S, what=self.name, log=self._log
        )
        self._versions.put(self.name, self._server_version())
        return f"{self.name}: started on {self._address} (data {self._dir})"

    def down(self) -> str:
        pid = self._owned_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return f"{self.name}: not running (nothing of ours)"
        result = process.stop_pid(pid, self._marker)
        self._pid_file.unlink(missing_ok=True)
        return f"{self.name}: {result}"

    def status(self) -> Status:
        pid = self._owned_pid()
        version = self._versions.get(self.name)
        if pid is not None:
            return Status(self.name, "running", pid, self._address, version, str(self._dir))
        if process.port_open(self._s.redis.host, self._s.redis.port):
            return Status(self.name, "external", None, self._address, "", "not started by us")
        return Status(self.name, "stopped", None, self._address, version)

    def _client(self) -> "redis.Redis":
        import redis  # noqa: PLC0415 (client libraries load only when a server is touched: status stays fast)

        return redis.Redis(
            host=self._s.redis.host, port=self._s.redis.port, socket_timeout=2,
            socket_connect_timeout=2,
        )

    def _pings(self) -> bool:
        import redis  # noqa: PLC0415 (client libraries load only when a server is touched: status stays fast)

        try:
            with self._client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _server_version(self) -> str:
        with self._client() as client:
            info = client.info("server")
        return f"Redis {info.get('redis_version', '?')}"
