"""The platform's services as subprocesses of an end-to-end test (real processes, real
servers): a trading core and a ledger wired to one private Kafka broker."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class ServiceProcess:
    def __init__(self, name: str, module: str, env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self._log = log
        with log.open("ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", module, "serve"], cwd=REPO, env={**os.environ, **env},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self._proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 30.0) -> int:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        return int(self._proc.returncode)


class LedgerClient:
    """JSON over HTTP to the ledger, with one token per role."""

    def __init__(self, port: int, tokens: Mapping[str, str]) -> None:
        self._base = f"http://127.0.0.1:{port}"
        self._tokens = tokens

    def call(self, method: str, path: str, body: Any = None, role: str = "admin") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self._base + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self._tokens[role]}",
                     "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read().decode()}") from None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self._base + "/readyz", timeout=1) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False


def role_tokens() -> dict[str, str]:
    return {role: secrets.token_hex(16) for role in ("internal", "admin", "approver")}


def tokens_env(tokens: Mapping[str, str]) -> str:
    return ",".join(f"{token}:{role}:e2e-{role}" for role, token in tokens.items())


def wait_for(condition: Any, what: str, timeout_s: float = 60.0, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)
