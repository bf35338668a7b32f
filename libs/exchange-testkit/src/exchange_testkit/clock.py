"""A clock that moves only when a test says so."""

from dataclasses import dataclass


@dataclass
class FakeClock:
    now_ns: int = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, *, ns: int = 0, us: int = 0, ms: int = 0, s: int = 0) -> int:
        self.now_ns += ns + us * 1_000 + ms * 1_000_000 + s * 1_000_000_000
        return self.now_ns
