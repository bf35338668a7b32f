"""Ledger service: append-only double-entry ledger on PostgreSQL."""
