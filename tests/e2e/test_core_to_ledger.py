"""End to end through the real processes: ledger deposit -> Kafka -> core balance ->
orders over gRPC -> trade on Kafka -> settled in the PostgreSQL ledger, balances exact.

One private Kafka broker carries every topic, so no other test's events reach these
services; the ledger gets its own schema, the core its own data directory and shard id.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest

from exchange.v1 import common_pb2, trading_core_pb2, trading_core_pb2_grpc
from exchange_common.kafka import ensure_topics
from exchange_testkit.private_kafka import PrivateKafka, free_port
from tests.e2e.services import (
    REPO,
    LedgerClient,
    ServiceProcess,
    role_tokens,
    tokens_env,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SYMBOL = "BTC-USDT"


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[PrivateKafka]:
    broker = PrivateKafka(tmp_path / "kafka")
    broker.start()
    try:
        ensure_topics(broker.bootstrap)
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def ledger(tmp_path: Path, kafka: PrivateKafka, postgres_dsn: str) -> Iterator[LedgerClient]:
    schema = f"e2e_{secrets.token_hex(4)}"
    port, tokens = free_port(), role_tokens()
    proc = ServiceProcess("ledger", "exchange_ledger", {
        "LEDGER_DATABASE_URL": postgres_dsn, "LEDGER_DB_SCHEMA": schema,
        "LEDGER_KAFKA_ENABLED": "true", "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "LEDGER_KAFKA_MANUAL_ASSIGNMENT": "true", "LEDGER_HTTP_PORT": str(port),
        "LEDGER_API_TOKENS": tokens_env(tokens), "LEDGER_CONSUMER_GROUP": f"e2e-{schema}",
    }, tmp_path / "ledger.log")
    client = LedgerClient(port, tokens)
    try:
        wait_for(lambda: client.ready() or not proc.alive(), "the ledger to be ready")
        assert proc.alive(), proc.tail()
        yield client
    finally:
        proc.stop()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


@pytest.fixture
def core(tmp_path: Path, kafka: PrivateKafka, redis_url: str) -> Iterator[Any]:
    port = free_port()
    proc = ServiceProcess("core", "exchange_core", {
        "CORE_DATA_DIR": str(tmp_path / "core"), "CORE_GRPC_PORT": str(port),
        "CORE_METRICS_PORT": str(free_port()), "CORE_SHARD_ID": f"e2e-{secrets.token_hex(4)}",
        "CORE_MARKETS_FILE": str(REPO / "config" / "markets.json"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "REDIS_URL": redis_url,
        "CORE_S3_ARCHIVE_ENABLED": "false",
    }, tmp_path / "core.log")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        try:
            grpc.channel_ready_future(channel).result(timeout=60)
        except grpc.FutureTimeoutError:
            pytest.fail(f"core did not serve:\n{proc.tail()}")
        yield trading_core_pb2_grpc.TradingCoreStub(channel)
    finally:
        channel.close()
        assert proc.stop() == 0, proc.tail()


def _limit(account: str, side: int, price: str, quantity: str, cid: str) -> Any:
    return trading_core_pb2.PlaceOrderRequest(
        meta=trading_core_pb2.CommandMeta(correlation_id=f"e2e-{cid}"),
        symbol=SYMBOL, account_id=account, client_order_id=cid, side=side,  # type: ignore[arg-type]
        order_type=common_pb2.ORDER_TYPE_LIMIT, time_in_force=common_pb2.TIME_IN_FORCE_GTC,
        price=price, quantity=quantity,
    )


def _balance(ledger: LedgerClient, owner: str, asset: str) -> dict[str, str]:
    rows = ledger.call("GET", f"/v1/balances?account_id={owner}&asset={asset}", role="internal")
    found = rows["balances"]
    return dict(found[0]) if found else {"asset": asset, "available": "0", "hold": "0"}


def test_a_deposit_funds_an_order_whose_trade_settles_exactly_once_in_the_ledger(
    ledger: LedgerClient, core: Any,
) -> None:
    alice, bob = f"alice-{secrets.token_hex(3)}", f"bob-{secrets.token_hex(3)}"
    for adjustment_id, account, asset, amount in (
        ("dep-a", alice, "USDT", "100000"), ("dep-b", bob, "BTC", "2"),
    ):
        ledger.call("POST", "/v1/admin/adjustments", {
            "adjustment_id": f"{adjustment_id}-{account}", "account_id": account,
            "asset": asset, "delta": amount, "kind": "deposit", "reason": "e2e deposit",
        })

    # The core learns the deposits from ledger.balance-events.v1: until then it refuses
    # the sell for funds (a refusal changes nothing), so retry, bounded.
    def sell_accepted() -> Any:
        reply = core.PlaceOrder(_limit(bob, common_pb2.SIDE_SELL, "30000", "1", "s1"))
        return reply if reply.accepted else None

    maker = wait_for(sell_accepted, "bob's deposit to reach the core", timeout_s=60, every_s=0.5)
    taker = wait_for(
        lambda: (r := core.PlaceOrder(_limit(alice, common_pb2.SIDE_BUY, "30010", "1", "b1")))
        and r.accepted and r, "alice's deposit to reach the core", timeout_s=60, every_s=0.5)
    assert taker.status == common_pb2.ORDER_STATUS_FILLED
    assert [t.price for t in taker.trades] == ["30000"]
    assert maker.order_id == taker.trades[0].maker_order_id

    # Settled in the ledger: taker fee 0.1% and maker fee 0.05% in quote, price
    # improvement (limit 30010, traded at 30000) refunded to the buyer.
    expected = {
        (alice, "BTC"): {"available": "1", "hold": "0"},
        (alice, "USDT"): {"available": "69970", "hold": "0"},
        (bob, "BTC"): {"available": "1", "hold": "0"},
        (bob, "USDT"): {"available": "29985", "hold": "0"},
    }

    def settled() -> bool:
        return all(
            {k: v for k, v in _balance(ledger, owner, asset).items() if k != "asset"} == want
            for (owner, asset), want in expected.items()
        )

    wait_for(settled, "the trade to settle in the ledger", timeout_s=60, every_s=0.5)
    # Both fees land in the system fee account (kind "fee").
    assert _balance(ledger, "@fees", "USDT").get("fee") == "45"

    checks = ledger.call("POST", "/v1/admin/invariants/check", {})
    assert checks["ok"] is True, checks
    # Reconciliation: the core's sequence number for the symbol, as reported to the
    # ledger, is covered by the ledger's with no gap.
    engine_seq = core.GetOrderBook(trading_core_pb2.GetOrderBookRequest(symbol=SYMBOL)).seq
    ledger.call("POST", "/v1/internal/reconciliation/engine-seq",
                {"symbol": SYMBOL, "seq": engine_seq}, role="internal")
    reconciliation = ledger.call("GET", f"/v1/admin/reconciliation/{SYMBOL}")
    assert reconciliation["gaps"] == [], reconciliation
    assert reconciliation["ledger_seq"] == engine_seq, reconciliation
