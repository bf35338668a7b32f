"""The domain stays pure: no I/O, clock, asyncio or environment (checked on the source)."""

import ast
from pathlib import Path

import exchange_ledger.domain

BANNED = {"time", "datetime", "asyncio", "os", "socket", "psycopg", "psycopg_pool",
          "confluent_kafka", "fastapi", "httpx", "random", "threading", "subprocess"}


def test_domain_modules_import_nothing_impure() -> None:
    root = Path(exchange_ledger.domain.__file__).parent
    offenders = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in BANNED]
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    ("exchange_ledger.adapters", "exchange_ledger.app")):
                offenders.append(f"{path.name}: {node.module}")
    assert offenders == []
