"""The database itself keeps the journal append-only, balanced and non-negative."""

import psycopg
import pytest

from .conftest import Ledger

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("as_owner", [True, False], ids=["schema-owner", "app-role"])
@pytest.mark.parametrize("statement", [
    "UPDATE postings SET units = units * 2",
    "DELETE FROM postings",
    "TRUNCATE postings",
    "UPDATE journal_entries SET ref = 'x'",
    "DELETE FROM journal_entries",
    "TRUNCATE journal_entries CASCADE",
    "UPDATE audit_log SET principal = 'x'",
    "DELETE FROM audit_log",
])
def test_the_database_refuses_to_change_the_journal(ledger: Ledger, statement: str,
                                                    as_owner: bool) -> None:
    ledger.deposit("alice", "BTC", "1")
    before = ledger.scalar("SELECT count(*) FROM postings")
    conn = ledger.owner_conn() if as_owner else ledger.app_conn()
    with conn, pytest.raises(psycopg.Error) as info:
        conn.execute(statement.encode())
    # the owner has every grant: the trigger (LA001) stops it; the app role lacks the grant
    assert info.value.sqlstate == ("LA001" if as_owner else "42501"), info.value
    assert ledger.scalar("SELECT count(*) FROM postings") == before == 2


def test_an_entry_that_does_not_sum_to_zero_is_refused(ledger: Ledger) -> None:
    ledger.deposit("alice", "BTC", "1")
    with ledger.owner_conn() as conn, pytest.raises(psycopg.Error,
                                                    match="does not sum to zero"):
        conn.execute("INSERT INTO journal_entries (entry_id, kind, ref, posting_count)"
                     " VALUES (999, 'adjustment', 'x', 2)")
        conn.execute("INSERT INTO postings (entry_id, leg, owner, asset, kind, units) VALUES"
                     " (999, 0, 'alice', 'BTC', 'available', 5),"
                     " (999, 1, '@treasury', 'BTC', 'external', -4)")


def test_an_entry_inserted_in_pieces_is_refused(ledger: Ledger) -> None:
    ledger.deposit("alice", "BTC", "1")
    with ledger.owner_conn() as conn, pytest.raises(psycopg.Error,
                                                    match="inserted whole"):
        conn.execute("INSERT INTO journal_entries (entry_id, kind, ref, posting_count)"
                     " VALUES (999, 'adjustment', 'x', 4)")
        conn.execute("INSERT INTO postings (entry_id, leg, owner, asset, kind, units) VALUES"
                     " (999, 0, 'alice', 'BTC', 'available', 5),"
                     " (999, 1, '@treasury', 'BTC', 'external', -5)")


def test_postings_without_their_entry_are_refused(ledger: Ledger) -> None:
    with ledger.owner_conn() as conn, pytest.raises(psycopg.Error,
                                                    match="need the entry"):
        conn.execute("INSERT INTO postings (entry_id, leg, owner, asset, kind, units) VALUES"
                     " (12345, 0, 'alice', 'BTC', 'available', 5),"
                     " (12345, 1, '@treasury', 'BTC', 'external', -5)")


def test_a_user_balance_cannot_go_below_zero(ledger: Ledger) -> None:
    ledger.deposit("alice", "BTC", "1")
    with ledger.app_conn() as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE balances SET units = -1 WHERE owner = 'alice'")


def test_the_treasury_may_go_below_zero_it_mirrors_the_outside_world(ledger: Ledger) -> None:
    ledger.deposit("alice", "BTC", "1")
    assert ledger.balance("@treasury", "BTC", "external") == -100_000_000
