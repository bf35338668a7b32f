"""The domain stays pure: no clock, no I/O, no asyncio, no environment, no app/adapters."""

import ast
from pathlib import Path

from exchange_core import domain

BANNED = {"time", "datetime", "asyncio", "os", "socket", "random", "threading", "subprocess",
          "io", "pathlib", "logging", "uuid", "secrets", "grpc", "redis", "boto3"}
BANNED_PREFIXES = ("exchange_core.app", "exchange_core.adapters", "exchange_core.config")


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_modules_import_nothing_impure() -> None:
    files = sorted(Path(domain.__file__).parent.glob("*.py"))
    assert len(files) > 10
    for path in files:
        for name in imported_names(path):
            assert name.split(".")[0] not in BANNED, f"{path.name} imports {name}"
            assert not name.startswith(BANNED_PREFIXES), f"{path.name} imports {name}"
