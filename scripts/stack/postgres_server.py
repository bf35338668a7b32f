"""PostgreSQL: initdb once as the ``postgres`` user, start with pg_ctl, role + database.

As root, PostgreSQL must run as ``postgres``; its data directory is handed to that user.
If the stack directory is not reachable by ``postgres`` (e.g. a checkout under /root),
the cluster lives in /var/lib/postgresql/exchange-stack/<hash> instead (printed).
An unrelated server already on the port is reused when it accepts the configured
credentials, and never stopped by ``down``.
"""

import hashlib
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from stack import process
from stack.errors import StackError
from stack.server import Status, VersionBook
from stack.settings import Settings

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes, with ".s.PGSQL.<port>" appended
START_TIMEOUT_S = 60


def bin_dir() -> Path:
    explicit = os.environ.get("PG_BIN_DIR")
    if explicit:
        return Path(explicit)
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    which = shutil.which("pg_ctl")
    if which is None:
        raise StackError("PostgreSQL server binaries not found: run scripts/setup.sh")
    return Path(which).resolve().parent


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents] if p.exists())


class PostgresServer:
    name = "postgres"

    def __init__(self, settings: Settings, versions: VersionBook) -> None:
        self._s = settings
        self._versions = versions
        self._as_root = os.geteuid() == 0
        base = settings.stack_dir / "postgres"
        self._log = settings.log_file(self.name)
        if self._as_root and not _traversable_by_others(settings.stack_dir):
            digest = hashlib.sha256(str(settings.stack_dir).encode()).hexdigest()[:12]
            base = Path("/var/lib/postgresql/exchange-stack") / digest
            self._log = base / "postgres.log"  # .stack/logs/postgres.log links to it
        self._base = base
        self._data = base / "data"
        sock = base / "run"
        self._sock = sock if len(str(sock)) < _SOCKET_PATH_MAX - 20 else Path("/tmp")
        self._pid_file = settings.pid_file(self.name)

    @property
    def _address(self) -> str:
        return f"{self._s.pg.host}:{self._s.pg.port}"

    def _owned_pid(self) -> int | None:
        return process.owned_pid(self._data / "postmaster.pid", str(self._data))

    def up(self) -> str:
        if self._owned_pid() is not None:
            self._ensure_credentials()
            return f"{self.name}: already running on {self._address}"
        if process.port_open(self._s.pg.host, self._s.pg.port):
            if self._credentials_work():
                self._pid_file.unlink(missing_ok=True)
                return f"{self.name}: reusing the server already on {self._address} (not ours)"
            raise StackError(
                f"{self.name}: port {self._address} is taken by a server that refuses "
                f"{self._s.pg.user}@{self._s.pg.database}; stop it or set LEDGER_DATABASE_URL"
            )
        self._prepare_dirs()
        fresh = not (self._data / "PG_VERSION").exists()
        if fresh:
            self._initdb()
        self._start()
        self._ensure_credentials(check_first=not fresh)
        self._versions.put(self.name, self._server_version())
        return f"{self.name}: started on {self._address} (data {self._data})"

    def down(self) -> str:
        pid = self._owned_pid()
        self._pid_file.unlink(missing_ok=True)
        if pid is None:
            return f"{self.name}: not running (nothing of ours)"
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") waits for clients.
        return f"{self.name}: " + process.stop_pid(pid, str(self._data), sig=signal.SIGINT)

    def status(self) -> Status:
        pid = self._owned_pid()
        version = self._versions.get(self.name)
        if pid is not None:
            return Status(self.name, "running", pid, self._address, version, str(self._data))
        if process.port_open(self._s.pg.host, self._s.pg.port):
            return Status(self.name, "external", None, self._address, "", "not started by us")
        return Status(self.name, "stopped", None, self._address, version)

    # -- steps ---------------------------------------------------------------------------

    def _as_postgres(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if self._as_root else cmd

    def _run(self, cmd: list[str], what: str, log: Path) -> None:
        with log.open("ab") as out:
            done = subprocess.run(
                self._as_postgres(cmd), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, check=False, timeout=120, cwd="/",
            )
        if done.returncode != 0:
            raise StackError(f"{self.name}: {what} failed (exit {done.returncode}); read {log}")

    def _prepare_dirs(self) -> None:
        for path in (self._base, self._data, self._sock, self._s.log_dir, self._s.run_dir):
            path.mkdir(parents=True, exist_ok=True)
        self._data.chmod(0o700)
        self._log.touch()
        link = self._s.log_file(self.name)
        if link != self._log and not link.exists():
            link.symlink_to(self._log)
        if self._as_root:
            for path in (self._base, self._data, self._log):
                shutil.chown(path, "postgres", "postgres")
            if self._sock != Path("/tmp"):
                shutil.chown(self._sock, "postgres", "postgres")

    def _initdb(self) -> None:
        cmd = [
            str(bin_dir() / "initdb"), "-D", str(self._data), "-U", "postgres",
            "--auth-local=peer", "--auth-host=scram-sha-256",
            "--encoding=UTF8", "--locale=C",
        ]
        self._run(cmd, "initdb", self._log)

    def _start(self) -> None:
        options = " ".join([
            "-c", f"listen_addresses={self._s.pg.host}",
            "-p", str(self._s.pg.port),
            "-c", shlex.quote(f"unix_socket_directories={self._sock}"),
            # The ledger writes ~4.5 KB of WAL per settled trade in batches of thousands:
            # the default 4 MB of WAL buffers fill up mid-batch (pg_stat_wal
            # wal_buffers_full). Durability settings stay at their defaults.
            "-c", "wal_buffers=16MB",
            "-c", "shared_buffers=256MB",
        ])
        cmd = [
            str(bin_dir() / "pg_ctl"), "-D", str(self._data), "-l", str(self._log),
            "-w", "-t", str(START_TIMEOUT_S), "-o", options, "start",
        ]
        self._run(cmd, "pg_ctl start", self._log)
        pid = self._owned_pid()
        if pid is None:
            raise StackError(f"{self.name}: started but no postmaster found; read {self._log}")
        process.write_pid(self._pid_file, pid)

    def _credentials_work(self) -> bool:
        import psycopg  # noqa: PLC0415 (client libraries load only when a server is touched: status stays fast)

        try:
            with psycopg.connect(self._s.pg.url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def _ensure_credentials(self, *, check_first: bool = True) -> None:
        """Create or repair the role and database (as ``postgres`` over the unix socket)."""
        if check_first and self._credentials_work():
            return
        pg = self._s.pg
        for ident in (pg.user, pg.database):
            if not _IDENT.match(ident):
                raise StackError(f"{self.name}: {ident!r} is not a plain SQL identifier")
        password = pg.password.replace("'", "''")
        self._psql(
            "DO $$BEGIN "
            f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{pg.user}') THEN "
            f"CREATE ROLE {pg.user} LOGIN PASSWORD '{password}' CREATEDB CREATEROLE; "
            f"ELSE ALTER ROLE {pg.user} LOGIN PASSWORD '{password}' CREATEDB CREATEROLE; "
            "END IF; END$$;"
        )
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{pg.database}'")
        if exists.strip() != "1":
            self._psql(f"CREATE DATABASE {pg.database} OWNER {pg.user}")
        if not self._credentials_work():
            raise StackError(f"{self.name}: role {pg.user} still cannot log in; read {self._log}")

    def _psql(self, sql: str) -> str:
        cmd = self._as_postgres([
            "psql", "-h", str(self._sock), "-p", str(self._s.pg.port), "-U", "postgres",
            "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-tAc", sql,
        ])
        done = subprocess.run(
            cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
            timeout=60, cwd="/",
        )
        if done.returncode != 0:
            raise StackError(f"{self.name}: psql failed: {done.stderr.strip()}")
        return done.stdout

    def _server_version(self) -> str:
        import psycopg  # noqa: PLC0415 (client libraries load only when a server is touched: status stays fast)

        with psycopg.connect(self._s.pg.url, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0]}" if row else "PostgreSQL ?"
