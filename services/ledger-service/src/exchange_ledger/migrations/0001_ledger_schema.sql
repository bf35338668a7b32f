-- Ledger schema v1. Applied by exchange_ledger.adapters.migrations inside one transaction,
-- with search_path set to the ledger's schema (names below are unqualified on purpose).

CREATE TABLE assets (
    asset       text PRIMARY KEY CHECK (asset ~ '^[A-Z0-9]{1,16}$'),
    scale       smallint NOT NULL CHECK (scale BETWEEN 0 AND 18),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- kind: available/hold for users; fee (the fee account) and external (the treasury,
-- mirror of the outside world: it is the only kind allowed below zero).
CREATE TABLE accounts (
    owner       text NOT NULL CHECK (length(owner) BETWEEN 1 AND 128),
    asset       text NOT NULL REFERENCES assets (asset),
    kind        text NOT NULL CHECK (kind IN ('available', 'hold', 'fee', 'external')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, asset, kind)
);

CREATE TABLE balances (
    owner       text NOT NULL,
    asset       text NOT NULL,
    kind        text NOT NULL,
    units       numeric(38, 0) NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, asset, kind),
    FOREIGN KEY (owner, asset, kind) REFERENCES accounts (owner, asset, kind),
    CONSTRAINT balance_not_negative CHECK (kind = 'external' OR units >= 0)
);

CREATE SEQUENCE journal_entry_id_seq;

CREATE TABLE journal_entries (
    entry_id           bigint PRIMARY KEY,
    kind               text NOT NULL CHECK (kind IN ('reserve', 'release', 'trade', 'adjustment', 'reversal')),
    ref                text NOT NULL,
    event_id           text,
    symbol             text,
    seq                bigint,
    posting_count      smallint NOT NULL CHECK (posting_count > 0),
    reverses_entry_id  bigint UNIQUE REFERENCES journal_entries (entry_id),
    principal          text,
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- No foreign keys here on purpose: per-row RI checks halved the settlement rate. The
-- zero-sum trigger below checks that each entry exists (and is complete), and an account
-- without a balance row is caught by the balances-equal-journal invariant check.
CREATE TABLE postings (
    entry_id   bigint NOT NULL,
    leg        smallint NOT NULL CHECK (leg >= 0),
    owner      text NOT NULL,
    asset      text NOT NULL,
    kind       text NOT NULL,
    units      numeric(38, 0) NOT NULL CHECK (units <> 0),
    order_ref  text,
    PRIMARY KEY (entry_id, leg),
    -- every movement of a hold belongs to one order (LED-5: holds equal open reserves)
    CONSTRAINT hold_posting_names_order CHECK (kind <> 'hold' OR order_ref IS NOT NULL)
);

-- LED-2: journal_entries, postings and audit_log are append-only, whoever connects.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'LA001';
END $$;

-- LED-1: the postings of an entry are inserted whole, in one statement, and sum to zero
-- per asset. Checked for every INSERT/COPY statement, inside its transaction.
CREATE FUNCTION ledger_check_new_postings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.entry_id, n.asset INTO bad
      FROM new_postings n GROUP BY n.entry_id, n.asset HAVING sum(n.units) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not sum to zero in %', bad.entry_id, bad.asset
            USING ERRCODE = 'LZ001';
    END IF;
    SELECT c.entry_id INTO bad
      FROM (SELECT entry_id, count(*) AS n, max(leg) AS top FROM new_postings GROUP BY entry_id) c
      LEFT JOIN journal_entries j USING (entry_id)
     WHERE j.entry_id IS NULL OR c.n <> j.posting_count OR c.top >= j.posting_count
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'postings of journal entry % need the entry, inserted whole in one statement',
            bad.entry_id USING ERRCODE = 'LZ002';
    END IF;
    RETURN NULL;
END $$;

CREATE TABLE processed_events (
    event_id      text PRIMARY KEY,
    source        text NOT NULL,
    partition     integer,
    kafka_offset  bigint,
    symbol        text NOT NULL,
    seq           bigint NOT NULL,
    epoch         bigint NOT NULL,
    content_hash  bytea NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('applied', 'parked', 'duplicate', 'noop')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE trades (
    trade_id      text PRIMARY KEY,
    event_id      text NOT NULL,
    symbol        text NOT NULL,
    content_hash  bytea NOT NULL,
    entry_id      bigint NOT NULL
);

CREATE TABLE orders (
    order_id        text PRIMARY KEY,
    owner           text NOT NULL,
    asset           text NOT NULL,
    reserved_units  numeric(38, 0) NOT NULL CHECK (reserved_units >= 0),
    event_id        text NOT NULL,
    symbol          text NOT NULL,
    content_hash    bytea NOT NULL,
    entry_id        bigint REFERENCES journal_entries (entry_id)
);

CREATE TABLE order_closures (
    order_id        text PRIMARY KEY REFERENCES orders (order_id),
    kind            text NOT NULL CHECK (kind IN ('canceled', 'expired', 'filled')),
    released_units  numeric(38, 0) NOT NULL CHECK (released_units >= 0),
    event_id        text NOT NULL,
    content_hash    bytea NOT NULL,
    entry_id        bigint REFERENCES journal_entries (entry_id)
);

-- Events that arrived before the OrderAccepted they depend on (the two topics are not
-- ordered with each other). Applied, in the same transaction, when the order arrives.
CREATE TABLE parked_events (
    event_id      text PRIMARY KEY,
    ref           text NOT NULL,
    content_hash  bytea NOT NULL,
    decoder       text NOT NULL CHECK (decoder IN ('order', 'trade')),
    payload       bytea NOT NULL,
    requires      text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_events_requires ON parked_events USING gin (requires);
CREATE INDEX parked_events_ref ON parked_events (ref);

CREATE TABLE consumer_offsets (
    group_id     text NOT NULL,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL CHECK (next_offset >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

CREATE TABLE symbol_state (
    symbol     text PRIMARY KEY,
    epoch      bigint NOT NULL,
    last_seq   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE seq_gaps (
    symbol    text NOT NULL,
    from_seq  bigint NOT NULL,
    to_seq    bigint NOT NULL CHECK (to_seq >= from_seq),
    PRIMARY KEY (symbol, from_seq)
);

CREATE TABLE engine_seq (
    symbol       text PRIMARY KEY,
    engine_seq   bigint NOT NULL,
    reported_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE poison_events (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL,
    partition     integer,
    kafka_offset  bigint,
    event_id      text,
    reason        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, partition, kafka_offset, event_id)
);

CREATE TABLE adjustments (
    adjustment_id  text PRIMARY KEY,
    owner          text NOT NULL,
    asset          text NOT NULL,
    delta_units    numeric(38, 0) NOT NULL CHECK (delta_units <> 0),
    kind           text NOT NULL,
    reason         text NOT NULL,
    content_hash   bytea NOT NULL,
    entry_id       bigint NOT NULL REFERENCES journal_entries (entry_id),
    principal      text NOT NULL
);

-- Transactional outbox: written in the adjustment's transaction, published by the relay.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    topic         text NOT NULL,
    record_key    bytea NOT NULL,
    payload       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE correction_requests (
    correction_id  text PRIMARY KEY,
    entry_id       bigint NOT NULL REFERENCES journal_entries (entry_id),
    reason         text NOT NULL,
    requested_by   text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE correction_approvals (
    correction_id  text NOT NULL REFERENCES correction_requests (correction_id),
    approver       text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (correction_id, approver)
);

CREATE TABLE correction_applications (
    correction_id      text PRIMARY KEY REFERENCES correction_requests (correction_id),
    reversal_entry_id  bigint NOT NULL UNIQUE REFERENCES journal_entries (entry_id),
    applied_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    principal  text NOT NULL,
    action     text NOT NULL,
    subject    text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER postings_zero_sum AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_postings();

-- The application role: the service runs its work as this role (SET ROLE), which may
-- only read and append to the journal. Roles are cluster-wide; creating it twice is fine.
DO $$
BEGIN
    CREATE ROLE exchange_ledger_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'exchange_ledger_app', 'MEMBER') THEN
        EXECUTE format('GRANT exchange_ledger_app TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO exchange_ledger_app', current_schema());
END $$;

GRANT SELECT, INSERT ON assets, accounts, journal_entries, postings, processed_events, trades,
    orders, order_closures, poison_events, adjustments, correction_requests,
    correction_approvals, correction_applications, audit_log TO exchange_ledger_app;
GRANT SELECT, INSERT, UPDATE ON balances, consumer_offsets, symbol_state, engine_seq, outbox
    TO exchange_ledger_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON seq_gaps, parked_events TO exchange_ledger_app;
DO $$
BEGIN
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO exchange_ledger_app',
                   current_schema());
END $$;
