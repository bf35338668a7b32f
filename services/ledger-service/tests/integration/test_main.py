"""`python -m exchange_ledger serve` starts, is ready (DB + Kafka), and stops on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_serve_with_kafka_is_ready_and_stops_on_sigterm(
        postgres_dsn: str, kafka_bootstrap: str, schema_name: str, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LEDGER_DATABASE_URL": postgres_dsn, "LEDGER_DB_SCHEMA": schema_name,
           "LEDGER_KAFKA_ENABLED": "true", "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "LEDGER_HTTP_PORT": str(port), "LEDGER_CONSUMER_GROUP": f"main-{schema_name}",
           "LEDGER_API_TOKENS": "admin-token-0123456789:admin:ops"}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "exchange_ledger", "serve"], env=env,
                            stdout=log, stderr=log)
    try:
        ready = None
        for _ in range(300):
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert ready is not None and ready.status_code == 200, (tmp_path / "serve.log").read_text()
        assert ready.json() == {"ready": True, "checks": {"database": True, "kafka": True}}
        check = httpx.post(f"http://127.0.0.1:{port}/v1/admin/invariants/check", timeout=10,
                           headers={"Authorization": "Bearer admin-token-0123456789"})
        assert check.json()["ok"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        log.close()
    assert code == 0
    assert "admin-token-0123456789" not in (tmp_path / "serve.log").read_text()  # never logged
