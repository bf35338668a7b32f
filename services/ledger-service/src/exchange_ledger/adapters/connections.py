"""Connections to the ledger's schema, as the application role.

The service connects as the schema owner (it runs the migrations), and every pooled
connection then does ``SET ROLE exchange_ledger_app``: the work of the service runs with
INSERT/SELECT only on the journal, so even a bug in this code cannot UPDATE or DELETE a
posting (the triggers refuse it for the owner too). Connections are in autocommit mode;
every unit of work opens its own ``conn.transaction()``.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from exchange_ledger.adapters.migrations import check_schema_name

APP_ROLE = "exchange_ledger_app"

ConnectionSource = Callable[[], AbstractContextManager[psycopg.Connection]]


def configure_session(conn: psycopg.Connection, schema: str, *, as_app_role: bool = True) -> None:
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(check_schema_name(schema))))
    if as_app_role:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(APP_ROLE)))


def open_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 8) -> ConnectionPool:
    def configure(conn: psycopg.Connection) -> None:
        configure_session(conn, schema)

    pool = ConnectionPool(dsn, min_size=min_size, max_size=max_size, open=False,
                          kwargs={"autocommit": True}, configure=configure,
                          name=f"ledger-{schema}")
    pool.open(wait=True, timeout=30)
    return pool


def connect(dsn: str, schema: str, *, as_app_role: bool = True) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True)
    configure_session(conn, schema, as_app_role=as_app_role)
    return conn
