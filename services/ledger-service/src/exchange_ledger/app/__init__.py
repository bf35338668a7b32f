"""Use cases of the ledger, written against the ports in ``exchange_ledger.app.ports``."""
