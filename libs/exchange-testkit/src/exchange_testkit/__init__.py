"""Shared test helpers: the local stack's endpoints as fixtures, a fake clock."""

from exchange_testkit.clock import FakeClock
from exchange_testkit.endpoints import Endpoints, require_tcp

__all__ = ["Endpoints", "FakeClock", "require_tcp"]
