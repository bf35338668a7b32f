"""Which of the platform's services `up --services` runs, and with what environment."""

import os
import secrets
from pathlib import Path

from stack.service_process import ServiceProcess, ServiceSpec
from stack.settings import Settings

ROLES = ("internal", "admin", "approver")


def ledger_tokens(settings: Settings) -> str:
    """Local API tokens of the ledger (``token:role:principal,...``), made once per stack.

    Kept in ``<stack>/secrets/ledger-tokens`` (mode 600) and never printed: read the file
    to call the admin endpoints. LEDGER_API_TOKENS in the environment wins.
    """
    given = os.environ.get("LEDGER_API_TOKENS")
    if given:
        return given
    path = settings.stack_dir / "secrets" / "ledger-tokens"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        entries = [f"{secrets.token_hex(16)}:{role}:local-{role}" for role in ROLES]
        entries.append(f"{secrets.token_hex(16)}:approver:local-approver-2")
        path.write_text(",".join(entries) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def services(settings: Settings) -> list[ServiceProcess]:
    core_dir = settings.stack_dir / "core"
    markets = Path(os.environ.get("CORE_MARKETS_FILE", settings.repo / "config" / "markets.json"))
    core = ServiceSpec(
        name="core", module="exchange_core", args=("serve",),
        port=int(os.environ.get("CORE_GRPC_PORT", "50051")),
        env={"CORE_DATA_DIR": str(core_dir), "CORE_MARKETS_FILE": str(markets)},
        data_dirs=(core_dir,),
    )
    ledger_port = int(os.environ.get("LEDGER_HTTP_PORT", "8082"))
    ledger = ServiceSpec(
        name="ledger", module="exchange_ledger", args=("serve",), port=ledger_port,
        health_url=f"http://127.0.0.1:{ledger_port}/healthz",
        env={
            "LEDGER_KAFKA_ENABLED": os.environ.get("LEDGER_KAFKA_ENABLED", "true"),
            "LEDGER_API_TOKENS": ledger_tokens(settings),
        },
    )
    return [ServiceProcess(settings, core), ServiceProcess(settings, ledger)]
