"""chDB: no server; ``up`` applies infra/clickhouse/schema.sql to the chDB data directory.

chDB allows one process per data directory, so the schema is applied in a short child
process (which releases the lock when it exits) and only when the schema file changed
since the last apply (a stamp holds its hash).
"""

import hashlib
import subprocess
import sys
from importlib import metadata

from stack.errors import StackError
from stack.server import Status, VersionBook
from stack.settings import Settings

_APPLY = """
import sys
from chdb import session
s = session.Session(sys.argv[1])
try:
    s.query(open(sys.argv[2], encoding="utf-8").read())
    print(s.query("SELECT version()", "CSV").bytes().decode().strip().strip('"'))
finally:
    s.close()
"""


class ChdbStore:
    name = "chdb"

    def __init__(self, settings: Settings, versions: VersionBook) -> None:
        self._s = settings
        self._versions = versions
        self._schema = settings.repo / "infra/clickhouse/schema.sql"
        self._stamp = settings.chdb_path / ".exchange-schema.sha256"

    def _schema_hash(self) -> str:
        return hashlib.sha256(self._schema.read_bytes()).hexdigest()

    def _applied_hash(self) -> str:
        try:
            return self._stamp.read_text().strip()
        except FileNotFoundError:
            return ""

    def up(self) -> str:
        wanted = self._schema_hash()
        if self._applied_hash() == wanted:
            return f"{self.name}: schema up to date in {self._s.chdb_path}"
        self._s.chdb_path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", _APPLY, str(self._s.chdb_path), str(self._schema)],
            capture_output=True, text=True, check=False, timeout=120,
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-3:]
            raise StackError(
                f"{self.name}: applying {self._schema} to {self._s.chdb_path} failed "
                f"(another process may own that directory): {' | '.join(tail)}"
            )
        engine = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "?"
        self._versions.put(self.name, f"chDB {metadata.version('chdb')} (engine {engine})")
        self._stamp.write_text(wanted + "\n")
        return f"{self.name}: schema applied in {self._s.chdb_path}"

    def down(self) -> str:
        return f"{self.name}: embedded, nothing to stop"

    def status(self) -> Status:
        version = self._versions.get(self.name) or f"chDB {metadata.version('chdb')}"
        applied = self._applied_hash()
        if not applied:
            state, note = "absent", "schema not applied (run up)"
        elif applied != self._schema_hash():
            state, note = "stale", "schema.sql changed since applied (run up)"
        else:
            state, note = "ready", "embedded, no server"
        return Status(self.name, state, None, str(self._s.chdb_path), version, note)
