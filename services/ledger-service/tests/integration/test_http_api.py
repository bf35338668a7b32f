"""Every endpoint against the real database, through the FastAPI app (in process)."""

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from exchange_ledger.adapters.http_api import create_app
from exchange_ledger.config import Settings
from exchange_ledger.service import Runtime, build

pytestmark = pytest.mark.integration

TOKENS = {
    "core": "internal-token-core-0001",
    "alice": "admin-token-alice-00001",
    "alice-approver": "approver-token-alice-01",
    "carol": "approver-token-carol-001",
    "dave": "approver-token-dave-0001",
}
_TOKEN_ENV = ",".join([f"{TOKENS['core']}:internal:core", f"{TOKENS['alice']}:admin:alice",
                       f"{TOKENS['alice-approver']}:approver:alice",
                       f"{TOKENS['carol']}:approver:carol", f"{TOKENS['dave']}:approver:dave"])


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


@pytest.fixture
def runtime(postgres_dsn: str, schema_name: str) -> Iterator[Runtime]:
    settings = Settings.from_env({"LEDGER_DATABASE_URL": postgres_dsn,
                                  "LEDGER_DB_SCHEMA": schema_name,
                                  "LEDGER_API_TOKENS": _TOKEN_ENV,
                                  "LEDGER_ASSETS": "BTC:8,USDT:8"})
    made = build(settings)
    yield made
    made.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[httpx.Client]:
    """The app served by a real uvicorn on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime.services), host="127.0.0.1",
                                           port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.025)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as made:
            yield made
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def deposit(client: httpx.Client, account: str, asset: str, amount: str, ident: str) -> Any:
    return client.post("/v1/admin/adjustments", headers=auth("alice"), json={
        "adjustment_id": ident, "account_id": account, "asset": asset, "delta": amount,
        "kind": "deposit", "reason": "wire in"})


def reserve(client: httpx.Client, order_id: str, account: str, asset: str, amount: str, *,
            seq: int) -> Any:
    return client.post("/v1/internal/orders/reserve", headers=auth("core"), json={
        "symbol": "BTC-USDT", "seq": seq, "epoch": 1, "order_id": order_id,
        "account_id": account, "asset": asset, "amount": amount})


TRADE = {"symbol": "BTC-USDT", "seq": 3, "epoch": 1, "trade_id": "t-1", "base_asset": "BTC",
         "quote_asset": "USDT", "price": "30000", "quantity": "0.5", "quote_amount": "15000",
         "taker_side": "BUY", "maker_order_id": "sell-1", "taker_order_id": "buy-1",
         "maker_account_id": "sam", "taker_account_id": "bea", "buyer_fee": "15",
         "seller_fee": "15", "buyer_refund": "5"}


def balances(client: httpx.Client, account: str) -> dict[str, dict[str, str]]:
    body = client.get("/v1/balances", params={"account_id": account}, headers=auth("core")).json()
    return {b["asset"]: b for b in body["balances"]}


def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True}
    assert "ledger_poison_events_total" in client.get("/metrics").text


def test_reserve_trade_and_release_move_funds_as_the_identity_says(client: httpx.Client) -> None:
    assert deposit(client, "bea", "USDT", "20000", "d1").status_code == 201
    assert deposit(client, "sam", "BTC", "1", "d2").status_code == 201
    assert reserve(client, "buy-1", "bea", "USDT", "15020", seq=1).json()["status"] == "applied"
    assert reserve(client, "sell-1", "sam", "BTC", "0.8", seq=2).json()["status"] == "applied"
    first = client.post("/v1/internal/trades/executed", headers=auth("core"), json=TRADE)
    assert first.status_code == 200 and first.json()["status"] == "applied"
    again = client.post("/v1/internal/trades/executed", headers=auth("core"), json=TRADE)
    assert again.json()["status"] == "duplicate"
    release = client.post("/v1/internal/orders/release", headers=auth("core"), json={
        "symbol": "BTC-USDT", "seq": 4, "epoch": 1, "order_id": "sell-1", "account_id": "sam",
        "asset": "BTC", "amount": "0.3", "reason": "canceled"})
    assert release.json()["status"] == "applied"
    assert balances(client, "bea") == {
        "BTC": {"asset": "BTC", "available": "0.5", "hold": "0"},
        "USDT": {"asset": "USDT", "available": "4985", "hold": "0"}}
    assert balances(client, "sam") == {
        "BTC": {"asset": "BTC", "available": "0.5", "hold": "0"},
        "USDT": {"asset": "USDT", "available": "14985", "hold": "0"}}
    assert balances(client, "@fees")["USDT"]["fee"] == "30"
    check = client.post("/v1/admin/invariants/check", headers=auth("alice")).json()
    assert check["ok"] is True and check["violations"] == {}


def test_a_repeated_trade_id_with_other_content_is_a_conflict(client: httpx.Client) -> None:
    deposit(client, "bea", "USDT", "20000", "d1")
    deposit(client, "sam", "BTC", "1", "d2")
    reserve(client, "buy-1", "bea", "USDT", "15020", seq=1)
    reserve(client, "sell-1", "sam", "BTC", "0.8", seq=2)
    client.post("/v1/internal/trades/executed", headers=auth("core"), json=TRADE)
    before = balances(client, "bea")
    other = {**TRADE, "event_id": "another-event", "buyer_refund": "4", "buyer_fee": "16"}
    response = client.post("/v1/internal/trades/executed", headers=auth("core"), json=other)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "exists_with_different_content"
    assert balances(client, "bea") == before


def test_bad_input_gets_a_structured_error_and_changes_nothing(client: httpx.Client) -> None:
    cases = [
        ({**TRADE, "quantity": 0.5}, 400, "invalid_request"),          # a float, not a string
        ({**TRADE, "price": "1e3"}, 422, "invalid_amount"),
        ({**TRADE, "quantity": "0.000000001"}, 422, "invalid_amount"),  # finer than scale 8
        ({**TRADE, "base_asset": "DOGE"}, 422, "unknown_asset"),
        ({**TRADE, "quote_amount": "15001"}, 422, "invalid_amount"),   # != price * quantity
        ({**TRADE, "unexpected": 1}, 400, "invalid_request"),
    ]
    for body, status, code in cases:
        response = client.post("/v1/internal/trades/executed", headers=auth("core"), json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    withdrawal = client.post("/v1/admin/adjustments", headers=auth("alice"), json={
        "adjustment_id": "w1", "account_id": "bea", "asset": "USDT", "delta": "-1",
        "kind": "withdrawal", "reason": "out"})
    assert withdrawal.status_code == 422
    assert withdrawal.json()["error"]["code"] == "insufficient_funds"
    assert balances(client, "bea") == {}


def test_credentials_and_roles_are_enforced(client: httpx.Client) -> None:
    assert client.post("/v1/internal/trades/executed", json=TRADE).status_code == 401
    bad = client.post("/v1/internal/trades/executed", json=TRADE,
                      headers={"Authorization": "Bearer nope-nope-nope-nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthenticated"
    forbidden = client.post(
        "/v1/admin/adjustments", headers=auth("core"), json={
            "adjustment_id": "a", "account_id": "x", "asset": "BTC", "delta": "1",
            "kind": "deposit", "reason": "r"})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert client.post("/v1/admin/invariants/check", headers=auth("carol")).status_code == 403


def test_adjustments_are_idempotent_and_reach_the_outbox(client: httpx.Client,
                                                         runtime: Runtime) -> None:
    assert deposit(client, "bea", "USDT", "10", "same").status_code == 201
    assert deposit(client, "bea", "USDT", "10", "same").status_code == 200
    conflict = deposit(client, "bea", "USDT", "11", "same")
    assert conflict.status_code == 409
    assert balances(client, "bea")["USDT"]["available"] == "10"
    with runtime.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (1,)


def test_correction_workflow_with_every_refusal(client: httpx.Client) -> None:
    entry_id = deposit(client, "bea", "USDT", "100", "oops").json()["entry_id"]
    created = client.post("/v1/admin/corrections/requests", headers=auth("alice"),
                          json={"entry_id": entry_id, "reason": "deposit booked twice"})
    assert created.status_code == 201
    cid = created.json()["correction_id"]

    def approve(who: str) -> Any:
        return client.post(f"/v1/admin/corrections/{cid}/approve", headers=auth(who))

    def apply() -> Any:
        return client.post(f"/v1/admin/corrections/{cid}/apply", headers=auth("alice"))

    assert apply().json()["error"]["code"] == "not_approved"            # before any approval
    assert approve("alice-approver").json()["error"]["code"] == "self_approval"
    assert approve("alice").status_code == 403                          # admin is no approver
    assert approve("carol").json()["status"] == "pending"
    assert approve("carol").json()["error"]["code"] == "already_approved"
    assert apply().json()["error"]["code"] == "not_approved"            # one approver
    assert approve("dave").json()["status"] == "approved"
    applied = apply()
    assert applied.status_code == 200 and applied.json()["status"] == "applied"
    assert apply().json()["error"]["code"] == "already_applied"         # double apply
    assert balances(client, "bea")["USDT"]["available"] == "0"
    again = client.post("/v1/admin/corrections/requests", headers=auth("alice"),
                        json={"entry_id": entry_id, "reason": "again"})
    assert again.json()["error"]["code"] == "already_reversed"
    missing = client.post("/v1/admin/corrections/nope/approve", headers=auth("carol"))
    assert missing.status_code == 404
    assert client.post("/v1/admin/invariants/check", headers=auth("alice")).json()["ok"]


def test_reconciliation_reports_engine_seq_ledger_seq_and_gaps(client: httpx.Client) -> None:
    deposit(client, "bea", "USDT", "100", "d")
    reserve(client, "o1", "bea", "USDT", "1", seq=1)
    reserve(client, "o2", "bea", "USDT", "1", seq=4)
    client.post("/v1/internal/reconciliation/engine-seq", headers=auth("core"),
                json={"symbol": "BTC-USDT", "seq": 6})
    body = client.get("/v1/admin/reconciliation/BTC-USDT", headers=auth("alice")).json()
    assert body == {"symbol": "BTC-USDT", "engine_seq": 6, "ledger_seq": 4, "epoch": 1,
                    "in_sync": False, "gaps": [{"from_seq": 2, "to_seq": 3}]}


def test_rebuild_balances_endpoint_reports_and_repairs(client: httpx.Client,
                                                       runtime: Runtime) -> None:
    deposit(client, "bea", "USDT", "100", "d")
    assert client.post("/v1/admin/rebuild-balances", headers=auth("alice"),
                       json={}).json() == {"drift": [], "repaired": False}
