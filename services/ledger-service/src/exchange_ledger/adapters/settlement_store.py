"""PostgreSQL implementation of the settlement port: one transaction per batch.

Order inside the transaction: load what the batch touches (dedup rows, orders, parked
events), lock the balance rows and symbol rows it moves in key order (so concurrent
writers never deadlock on each other), plan in the pure domain, then write with COPY and
set-based statements, and finally compare-and-set the consumer offsets. Any failure rolls
everything back, offsets included, so a restart re-reads exactly the uncommitted tail.
"""

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg.copy import LibpqWriter

from exchange_ledger.adapters.connections import ConnectionSource
from exchange_ledger.adapters.copy_text import NULL as _NULL
from exchange_ledger.adapters.copy_text import bytea, number, text
from exchange_ledger.adapters.decoders import decode_parked
from exchange_ledger.app.ports import (
    OffsetAdvance,
    RecordCursor,
    SettleResult,
    StaleOffsetError,
)
from exchange_ledger.domain.accounts import AccountKey
from exchange_ledger.domain.assets import AssetScales
from exchange_ledger.domain.batch import BatchPlan, LedgerView, plan_batch
from exchange_ledger.domain.inbound import EventKind, Inbound
from exchange_ledger.domain.rejection import Rejection
from exchange_ledger.domain.sequence import SymbolState


def _ids(events: Iterable[Inbound], kind: EventKind) -> list[str]:
    return sorted({e.ref for e in events if e.kind == kind})


# A batch's id lists (thousands of strings) go as one JSON text each: json.dumps runs in
# C, where psycopg's text[] dumper quotes element by element in Python (several µs per
# trade). ARRAY(...) turns it back into a text[], so the lookups stay index scans on
# ``= ANY``.
_ANY_OF = "ANY(ARRAY(SELECT json_array_elements_text(%s::json)))"


def _json(values: Iterable[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


class AcceptedOrders:
    """Order ids known to be accepted (committed). Only positive facts, which never become
    false (orders rows are never deleted), so the cache is safe across replicas; it only
    spares the lookup of a trade's two orders. Bounded: oldest ids are forgotten first."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self._ids: dict[str, None] = {}
        self._capacity = capacity
        self._lock = threading.Lock()  # the consumer and HTTP threads share one store

    def known(self, order_ids: Iterable[str]) -> set[str]:
        with self._lock:
            return {o for o in order_ids if o in self._ids}

    def add(self, order_ids: Iterable[str]) -> None:
        with self._lock:
            self._ids.update(dict.fromkeys(order_ids))  # one C-level pass; known ids stay put
            while len(self._ids) > self._capacity:
                del self._ids[next(iter(self._ids))]


def load_view(
    conn: psycopg.Connection, events: list[Inbound], scales: AssetScales,
    accepted_cache: AcceptedOrders | None = None,
) -> LedgerView:
    view = LedgerView()
    accepts = _ids(events, EventKind.ACCEPT)
    if accepts:
        rows = conn.execute(
            "SELECT decoder, payload FROM parked_events WHERE requires && ARRAY(SELECT"
            " json_array_elements_text(%s::json)) ORDER BY created_at, event_id",
            (_json(accepts),)).fetchall()
        view.parked = [p for p in (decode_parked(d, bytes(b), scales) for d, b in rows)
                       if isinstance(p, Inbound)]
    everything = [*events, *view.parked]
    required = {o for e in everything for o in e.requires}
    known = accepted_cache.known(required) if accepted_cache is not None else set()
    view.accepted |= known
    order_ids = sorted({*accepts, *(required - known)})
    noop = EventKind.NOOP
    parked_refs = [e.kind + ":" + e.ref for e in events if e.kind != noop]
    accounts = sorted({p[0] for e in everything if e.entry is not None
                       for p in e.entry.postings})
    symbols = sorted({e.symbol for e in everything})
    # One round trip for every read (and lock) below: the statements are independent, so
    # they go as one pipeline and the results are read after (same order, same locks).
    with conn.pipeline():
        # Serialize batches that touch the same symbol BEFORE reading anything: the reads
        # below decide whether a trade applies or is parked for its order. Without this, a
        # batch holding the trade (read "order unknown") and a concurrent batch applying
        # the order (on another partition, so both offset compare-and-sets succeed) could
        # both commit and strand the trade as parked. Sorted order: no lock cycles (balance
        # rows are locked after, also sorted; HTTP adjustments take no symbol lock).
        if symbols:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('ledger.symbol:' || s, 0))"
                         " FROM (SELECT unnest(%s::text[]) AS s ORDER BY 1) AS ordered",
                         (symbols,))
        seen = conn.execute("SELECT event_id, content_hash FROM processed_events"
                            " WHERE event_id = " + _ANY_OF,
                            (_json([e.event_id for e in events]),))
        orders = conn.execute("SELECT order_id, content_hash FROM orders"
                              " WHERE order_id = " + _ANY_OF, (_json(order_ids),))
        closures = conn.execute("SELECT order_id, content_hash FROM order_closures"
                                " WHERE order_id = " + _ANY_OF,
                                (_json(_ids(events, EventKind.RELEASE)),))
        trades = conn.execute("SELECT trade_id, content_hash FROM trades"
                              " WHERE trade_id = " + _ANY_OF,
                              (_json(_ids(events, EventKind.TRADE)),))
        parked = conn.execute("SELECT ref, content_hash FROM parked_events WHERE ref = "
                              + _ANY_OF, (_json(parked_refs),))
        balances = _send_lock_balances(conn, accounts)
        symbol_rows = _send_load_symbols(conn, symbols)
        view.seen_events = {r[0]: bytes(r[1]) for r in seen.fetchall()}
        for order_id, digest in orders.fetchall():
            view.accepted.add(order_id)
            view.seen_refs[(EventKind.ACCEPT.value, order_id)] = bytes(digest)
        for order_id, digest in closures.fetchall():
            view.seen_refs[(EventKind.RELEASE.value, order_id)] = bytes(digest)
        for trade_id, digest in trades.fetchall():
            view.seen_refs[(EventKind.TRADE.value, trade_id)] = bytes(digest)
        for ref, digest in parked.fetchall():
            kind, _, ident = str(ref).partition(":")
            view.seen_refs.setdefault((kind, ident), bytes(digest))
        view.balances = _read_balances(balances)
        _read_symbols(view, symbol_rows)
    return view


def _send_lock_balances(conn: psycopg.Connection, keys: list[AccountKey]
                        ) -> psycopg.Cursor[tuple[Any, ...]] | None:
    """Create missing accounts, then lock their balance rows in key order (``keys`` sorted);
    the rows are read from the returned cursor."""
    if not keys:
        return None
    owners, assets, kinds = [k.owner for k in keys], [k.asset for k in keys], [k.kind for k in keys]
    conn.execute(
        "INSERT INTO accounts (owner, asset, kind) SELECT * FROM unnest(%s::text[], %s::text[],"
        " %s::text[]) ON CONFLICT DO NOTHING", (owners, assets, kinds))
    conn.execute(
        "INSERT INTO balances (owner, asset, kind) SELECT * FROM unnest(%s::text[], %s::text[],"
        " %s::text[]) ON CONFLICT DO NOTHING", (owners, assets, kinds))
    return conn.execute(
        "SELECT b.owner, b.asset, b.kind, b.units FROM balances b JOIN unnest(%s::text[],"
        " %s::text[], %s::text[]) AS k(owner, asset, kind) USING (owner, asset, kind)"
        " ORDER BY b.owner, b.asset, b.kind FOR UPDATE OF b", (owners, assets, kinds))


def _read_balances(cur: psycopg.Cursor[tuple[Any, ...]] | None) -> dict[AccountKey, int]:
    if cur is None:
        return {}
    return {AccountKey(o, a, k): int(u) for o, a, k, u in cur.fetchall()}


def lock_balances(
    conn: psycopg.Connection, accounts: Iterable[AccountKey]
) -> dict[AccountKey, int]:
    """Create missing accounts, then lock their balance rows in key order; return units."""
    return _read_balances(_send_lock_balances(conn, sorted(set(accounts))))


_SymbolCursors = tuple[psycopg.Cursor[tuple[Any, ...]], psycopg.Cursor[tuple[Any, ...]]] | None


def _send_load_symbols(conn: psycopg.Connection, symbols: list[str]) -> _SymbolCursors:
    if not symbols:
        return None
    return (conn.execute("SELECT symbol, epoch, last_seq FROM symbol_state"
                         " WHERE symbol = ANY(%s) ORDER BY symbol FOR UPDATE", (symbols,)),
            conn.execute("SELECT symbol, from_seq, to_seq FROM seq_gaps WHERE symbol = ANY(%s)"
                         " ORDER BY symbol, from_seq", (symbols,)))


def _read_symbols(view: LedgerView, cursors: _SymbolCursors) -> None:
    if cursors is None:
        return
    states, gaps = cursors
    view.symbols = {s: SymbolState(int(e), int(q)) for s, e, q in states.fetchall()}
    for symbol, low, high in gaps.fetchall():
        view.gaps.setdefault(symbol, []).append((int(low), int(high)))


def write_plan(conn: psycopg.Connection, plan: BatchPlan,
               meanwhile: Callable[[], object] | None = None) -> dict[str, int]:
    """Append the plan's entries and bookkeeping rows; return event id -> entry id.

    While PostgreSQL inserts one table's rows, this thread formats the next table's.
    Postings go last (after their entries, which the zero-sum trigger checks): the
    longest statement of a batch, during which ``meanwhile`` runs."""
    with_entry = [e for e in plan.applied if e.entry is not None]
    entry_ids: dict[str, int] = {}
    if with_entry:
        row = conn.execute(
            "SELECT array_agg(nextval('journal_entry_id_seq')) FROM generate_series(1, %s)",
            (len(with_entry),)).fetchone()
        ids = row[0] if row is not None else []
        entry_ids = {e.event_id: int(i) for e, i in zip(with_entry, ids, strict=True)}
    lines: dict[str, list[str]] = {}

    def bookkeeping() -> None:
        lines["processed"] = _processed_lines(plan)
        lines.update(_ref_lines(plan, entry_ids))

    def postings() -> None:
        lines["postings"] = _posting_lines(with_entry, entry_ids)

    _copy(conn, _ENTRIES, _entry_lines(with_entry, entry_ids), bookkeeping)
    for index, (statement, key) in enumerate(_BOOKKEEPING):
        _copy(conn, statement, lines[key], postings if index == 0 else None)
    _copy(conn, _POSTINGS, lines["postings"], meanwhile)
    return entry_ids


def write_state(conn: psycopg.Connection, plan: BatchPlan) -> None:
    """The balance, parked and sequence rows the plan changes (no COPY: may be pipelined)."""
    if plan.deltas:
        keys = sorted(plan.deltas)
        conn.execute(
            "UPDATE balances b SET units = b.units + d.delta FROM unnest(%s::text[], %s::text[],"
            " %s::text[], %s::numeric[]) AS d(owner, asset, kind, delta)"
            " WHERE (b.owner, b.asset, b.kind) = (d.owner, d.asset, d.kind)",
            ([k.owner for k in keys], [k.asset for k in keys], [k.kind for k in keys],
             [plan.deltas[k] for k in keys]))
    _write_parked(conn, plan)
    _write_symbols(conn, plan)


_ENTRIES = ("COPY journal_entries (entry_id, kind, ref, event_id, symbol, seq, posting_count)"
            " FROM STDIN")
_POSTINGS = "COPY postings (entry_id, leg, owner, asset, kind, units, order_ref) FROM STDIN"
_BOOKKEEPING = (
    ("COPY processed_events (event_id, source, partition, kafka_offset, symbol, seq, epoch,"
     " content_hash, outcome) FROM STDIN", "processed"),
    ("COPY trades (trade_id, event_id, symbol, content_hash, entry_id) FROM STDIN", "trades"),
    ("COPY orders (order_id, owner, asset, reserved_units, event_id, symbol, content_hash,"
     " entry_id) FROM STDIN", "orders"),
    ("COPY order_closures (order_id, kind, released_units, event_id, content_hash, entry_id)"
     " FROM STDIN", "closures"),
)


def _copy(conn: psycopg.Connection, statement: str, lines: list[str],
          meanwhile: Callable[[], object] | None = None) -> None:
    """COPY ``lines``; ``meanwhile`` runs after the data is handed to the kernel and
    before the statement is finished, so it overlaps the server's work. (psycopg's default
    writer leaves up to 1 MiB in libpq's own buffer until the COPY ends: the server would
    wait for it. Flushing every block hands it all over; loopback socket buffers take a
    batch's few MB without blocking, and if they did not, it would only overlap less.)"""
    if not lines:
        if meanwhile is not None:
            meanwhile()
        return
    with conn.cursor() as cur:
        writer = None if meanwhile is None else LibpqWriter(cur, flush_threshold=0)
        with cur.copy(statement.encode(), writer=writer) as copy:
            copy.write("".join(lines))
            if meanwhile is not None:
                meanwhile()


def _entry_lines(events: list[Inbound], ids: dict[str, int]) -> list[str]:
    lines: list[str] = []
    for e in events:
        entry = e.entry
        if entry is not None:
            lines.append(f"{ids[e.event_id]}\t{entry.kind}\t{text(entry.ref)}\t"
                         f"{text(e.event_id)}\t{text(e.symbol)}\t{e.seq}\t"
                         f"{len(entry.postings)}\n")
    return lines


def _posting_lines(events: list[Inbound], ids: dict[str, int]) -> list[str]:
    lines: list[str] = []
    prefix: dict[AccountKey, str] = {}  # escaped "owner\tasset\tkind" per account, reused
    for e in events:
        entry = e.entry
        if entry is None:
            continue
        entry_id = ids[e.event_id]
        for leg, (account, units, order_ref) in enumerate(entry.postings):
            head = prefix.get(account)
            if head is None:
                head = prefix[account] = "\t".join([text(part) for part in account])
            ref = _NULL if order_ref is None else text(order_ref)
            lines.append(f"{entry_id}\t{leg}\t{head}\t{units}\t{ref}\n")
    return lines


def _processed_lines(plan: BatchPlan) -> list[str]:
    return [
        f"{text(event_id)}\t{text(e.source.name)}\t{number(e.source.partition)}\t"
        f"{number(e.source.offset)}\t{text(e.symbol)}\t{e.seq}\t{e.epoch}\t"
        f"{bytea(e.content_hash)}\t{outcome}\n"
        for event_id, (e, outcome) in plan.processed.items()]


def _ref_lines(plan: BatchPlan, ids: dict[str, int]) -> dict[str, list[str]]:
    trades: list[str] = []
    accepts: list[str] = []
    releases: list[str] = []
    for e in plan.applied:
        o = e.order
        if e.kind == EventKind.TRADE:
            trades.append(f"{text(e.ref)}\t{text(e.event_id)}\t{text(e.symbol)}\t"
                          f"{bytea(e.content_hash)}\t{ids[e.event_id]}\n")
        elif e.kind == EventKind.ACCEPT and o is not None:
            accepts.append(f"{text(e.ref)}\t{text(o.owner)}\t{text(o.asset)}\t{o.units}\t"
                           f"{text(e.event_id)}\t{text(e.symbol)}\t{bytea(e.content_hash)}\t"
                           f"{number(ids.get(e.event_id))}\n")
        elif e.kind == EventKind.RELEASE and o is not None:
            releases.append(f"{text(e.ref)}\t{text(o.closure)}\t{o.units}\t"
                            f"{text(e.event_id)}\t{bytea(e.content_hash)}\t"
                            f"{number(ids.get(e.event_id))}\n")
    return {"trades": trades, "orders": accepts, "closures": releases}


def _write_parked(conn: psycopg.Connection, plan: BatchPlan) -> None:
    if plan.parked_done:
        conn.execute("DELETE FROM parked_events WHERE event_id = ANY(%s)", (plan.parked_done,))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO parked_events (event_id, ref, content_hash, decoder, payload, requires)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [(e.event_id, f"{e.kind.value}:{e.ref}", e.content_hash,
              "trade" if e.kind == EventKind.TRADE else "order", e.payload, list(e.requires))
             for e in plan.parked_new])


def _write_symbols(conn: psycopg.Connection, plan: BatchPlan) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO symbol_state (symbol, epoch, last_seq) VALUES (%s, %s, %s)"
            " ON CONFLICT (symbol) DO UPDATE SET epoch = excluded.epoch,"
            " last_seq = excluded.last_seq, updated_at = now()",
            [(s, st.epoch, st.last_seq) for s, st in sorted(plan.symbols.items())])
        for symbol, gaps in sorted(plan.gaps.items()):
            cur.execute("DELETE FROM seq_gaps WHERE symbol = %s", (symbol,))
            cur.executemany("INSERT INTO seq_gaps (symbol, from_seq, to_seq) VALUES (%s, %s, %s)",
                            [(symbol, low, high) for low, high in gaps])


def record_poison(conn: psycopg.Connection, plan: BatchPlan, cursor: RecordCursor | None) -> None:
    """Poison and stuck events are written down (visible to operators), once each."""
    rows = [(e.source.name, e.source.partition, e.source.offset, e.event_id, r.message)
            for e, r in plan.stuck]
    poison = plan.poison
    if poison is not None:
        if poison.event is not None:
            e = poison.event
            rows.append((e.source.name, e.source.partition, e.source.offset, e.event_id,
                         poison.rejection.message))
        elif cursor is not None:  # undecodable: only the record's place is known
            topic, partition, offset = cursor.records[poison.index]
            rows.append((topic, partition, offset, "", poison.rejection.message))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO poison_events (source, partition, kafka_offset, event_id, reason)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)


def send_offsets(conn: psycopg.Connection, group: str, offsets: list[OffsetAdvance]
                 ) -> list[tuple[OffsetAdvance, psycopg.Cursor[tuple[Any, ...]]]]:
    """Compare-and-set each advanced offset; ``check_offsets`` (after any pipeline has
    synced) raises unless every one of them moved exactly one row."""
    return [(o, conn.execute(
        "UPDATE consumer_offsets SET next_offset = %s, updated_at = now() WHERE group_id = %s"
        " AND topic = %s AND partition = %s AND next_offset = %s",
        (o.next, group, o.topic, o.partition, o.expected))) for o in offsets
        if o.next != o.expected]


def check_offsets(group: str, sent: list[tuple[OffsetAdvance, psycopg.Cursor[tuple[Any, ...]]]]
                  ) -> None:
    for o, cur in sent:
        if cur.rowcount != 1:
            raise StaleOffsetError(f"offset of {o.topic}[{o.partition}] for {group} is no longer"
                                   f" {o.expected}: another consumer advanced it")


def advance_offsets(conn: psycopg.Connection, group: str, offsets: list[OffsetAdvance]) -> None:
    check_offsets(group, send_offsets(conn, group, offsets))


class PostgresSettlementStore:
    """Implements ``SettlementStore`` on a connection source (pool or factory)."""

    def __init__(self, connect: ConnectionSource, scales: AssetScales) -> None:
        self._connect = connect
        self._scales = scales
        self._accepted = AcceptedOrders()

    def settle(self, events: list[Inbound | Rejection], cursor: RecordCursor | None,
               meanwhile: Callable[[], object] | None = None) -> SettleResult:
        """With a cursor (the consumer): commit the prefix before a poison event and the
        poison's record. Without (a direct request): a refusal rolls everything back.
        ``meanwhile`` (if the batch gets that far) runs while PostgreSQL inserts it."""
        entry_ids: dict[str, int] = {}
        with self._connect() as conn, conn.transaction():
            view = load_view(conn, _prefix(events), self._scales, self._accepted)
            plan = plan_batch(view, events)
            if cursor is None and plan.poison is not None:
                raise psycopg.Rollback()  # leaves the with-block, nothing written
            entry_ids = write_plan(conn, plan, meanwhile)
            with conn.pipeline():  # one round trip for the rest; COPY cannot be pipelined
                write_state(conn, plan)
                record_poison(conn, plan, cursor)
                sent = [] if cursor is None else send_offsets(
                    conn, cursor.group, cursor.advances(plan.consumed))
            if cursor is not None:
                check_offsets(cursor.group, sent)
            self._accepted.add(view.accepted)  # after the block: only if committed
        return SettleResult(plan, entry_ids)


def _prefix(events: list[Inbound | Rejection]) -> list[Inbound]:
    """Events up to the first undecodable one (the plan stops there anyway)."""
    out: list[Inbound] = []
    for e in events:
        if isinstance(e, Rejection):
            break
        out.append(e)
    return out

