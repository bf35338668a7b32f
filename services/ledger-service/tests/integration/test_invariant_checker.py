"""Invariant checks catch drift injected behind the ledger's back; rebuild repairs it."""

import pytest

from exchange_ledger.adapters.invariant_checker import InvariantChecker
from exchange_ledger.testing import scripted_market

from .conftest import Ledger

pytestmark = pytest.mark.integration


def test_a_healthy_ledger_passes_every_check(ledger: Ledger) -> None:
    ledger.fund(4)
    orders, trades = scripted_market(30, n_accounts=4)
    ledger.settle_records([*orders, *trades])
    report = InvariantChecker(ledger.pool.connection).check()
    assert report.ok and report.violations == {}
    assert report.postings > 0


def test_balance_drift_is_caught_and_rebuild_repairs_it(ledger: Ledger) -> None:
    ledger.fund(4)
    checker = InvariantChecker(ledger.pool.connection)
    with ledger.owner_conn() as conn:  # drift injected behind the ledger's back
        conn.execute("UPDATE balances SET units = units + 7 WHERE owner = 'acct-1'"
                     " AND asset = 'BTC' AND kind = 'available'")
    report = checker.check()
    assert not report.ok
    assert list(report.violations) == ["LED-4 balances equal the journal"]
    assert report.violations["LED-4 balances equal the journal"][0][:3] == [
        "acct-1", "BTC", "available"]
    drift = checker.rebuild_balances("ops", repair=False)
    assert drift == [{"owner": "acct-1", "asset": "BTC", "kind": "available",
                      "balance_units": "100000000007", "journal_units": "100000000000"}]
    assert not checker.check().ok  # a dry run repairs nothing
    checker.rebuild_balances("ops", repair=True)
    assert checker.check().ok
    assert ledger.balance("acct-1", "BTC") == 100_000_000_000
    assert ledger.scalar("SELECT count(*) FROM audit_log WHERE action = 'rebuild-balances'") == 2


def test_a_hold_released_twice_over_is_caught_per_order(ledger: Ledger) -> None:
    ledger.fund(2)
    with ledger.owner_conn() as conn:  # a forged entry: releases more than order o9 held
        conn.execute("INSERT INTO journal_entries (entry_id, kind, ref, posting_count)"
                     " VALUES (9001, 'release', 'o9', 2)")
        conn.execute("INSERT INTO postings (entry_id, leg, owner, asset, kind, units, order_ref)"
                     " VALUES (9001, 0, 'acct-0', 'BTC', 'hold', -5, 'o9'),"
                     " (9001, 1, 'acct-0', 'BTC', 'available', 5, NULL)")
    report = InvariantChecker(ledger.pool.connection).check()
    assert "LED-5 no order's hold is below zero" in report.violations
    assert "LED-4 balances equal the journal" in report.violations
