"""What every server of the stack offers the CLI, and the record of versions it started."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Status:
    name: str
    state: str  # running | stopped | external | ready | absent
    pid: int | None
    address: str
    version: str
    note: str = ""

    def line(self) -> str:
        pid = str(self.pid) if self.pid is not None else "-"
        text = f"{self.name:<9} {self.state:<8} pid {pid:<8} {self.address:<22} {self.version}"
        return f"{text}  {self.note}".rstrip()


class Server(Protocol):
    name: str

    def up(self) -> str: ...

    def down(self) -> str: ...

    def status(self) -> Status: ...


class VersionBook:
    """``<stack>/versions.json``: the version of each server as it was started."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def get(self, name: str) -> str:
        return self._load().get(name, "")

    def put(self, name: str, version: str) -> None:
        data = self._load()
        data[name] = version
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self._path)

    def _load(self) -> dict[str, str]:
        try:
            raw = json.loads(self._path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
