"""Test support shared by the ledger's tests and bench: core events built through the
contracts, consistent with the settlement identities of ``events.proto``."""

from exchange_ledger.testing.builders import CoreEvents, Record, scripted_market

__all__ = ["CoreEvents", "Record", "scripted_market"]
