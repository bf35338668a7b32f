"""Adapters: PostgreSQL, Kafka, HTTP. Each implements a port of ``exchange_ledger.app``."""
