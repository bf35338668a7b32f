"""The ledger's HTTP API (FastAPI): JSON in and out, structured errors, bearer roles."""

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from exchange_ledger.adapters.auth import Principal
from exchange_ledger.adapters.correction_store import CorrectionState
from exchange_ledger.adapters.decoders import decode_parked
from exchange_ledger.adapters.http_events import release_event, reserve_event, trade_event
from exchange_ledger.adapters.http_models import (
    AdjustmentBody,
    CorrectionBody,
    EngineSeqBody,
    RebuildBody,
    ReleaseBody,
    ReserveBody,
    TradeBody,
)
from exchange_ledger.adapters.json_logging import correlation_id
from exchange_ledger.adapters.ledger_services import LedgerServices
from exchange_ledger.domain.adjustment import parse_adjustment
from exchange_ledger.domain.rejection import Refusal, Rejection

log = logging.getLogger("exchange_ledger.http")

_STATUS: dict[Refusal, int] = {
    Refusal.INVALID_REQUEST: 400, Refusal.INVALID_AMOUNT: 422, Refusal.INVALID_ACCOUNT: 422,
    Refusal.UNKNOWN_ASSET: 422, Refusal.INSUFFICIENT_FUNDS: 422,
    Refusal.EXISTS_WITH_DIFFERENT_CONTENT: 409, Refusal.NOT_FOUND: 404,
    Refusal.STALE_EPOCH: 409, Refusal.SELF_APPROVAL: 403, Refusal.ALREADY_APPROVED: 409,
    Refusal.NOT_APPROVED: 409, Refusal.ALREADY_APPLIED: 409, Refusal.ALREADY_REVERSED: 409,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def refused(rejection: Rejection) -> ApiError:
    return ApiError(_STATUS.get(rejection.code, 400), rejection.code.value, rejection.message)


def _require(services: LedgerServices, roles: frozenset[str]) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = services.authority.identify(request.headers.get("authorization"))
        if principal is None:
            raise ApiError(401, "unauthenticated", "a valid bearer token is required")
        if not principal.roles & roles:
            raise ApiError(403, "forbidden", f"needs one of the roles {sorted(roles)}")
        return principal
    return dependency


def _correction_json(state: CorrectionState) -> dict[str, Any]:
    return {"correction_id": state.correction_id, "entry_id": state.entry_id,
            "requested_by": state.requested_by, "approvers": state.approvers,
            "status": state.status, "reversal_entry_id": state.reversal_entry_id}


def create_app(services: LedgerServices) -> FastAPI:
    app = FastAPI(title="exchange ledger", version="1")
    _install_handlers(app, services)
    internal = Depends(_require(services, frozenset({"internal"})))
    reader = Depends(_require(services, frozenset({"internal", "admin"})))
    admin = Depends(_require(services, frozenset({"admin"})))
    approver = Depends(_require(services, frozenset({"approver"})))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        checks = services.ready()
        return JSONResponse({"ready": all(checks.values()), "checks": checks},
                            status_code=200 if all(checks.values()) else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(services.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    def settle_one(payload: bytes, decoder: str) -> dict[str, Any]:
        event = decode_parked(decoder, payload, services.scales)
        if isinstance(event, Rejection):
            raise refused(event)
        result = services.settlement.settle([event], None)
        plan = result.plan
        if plan.poison is not None:
            raise refused(plan.poison.rejection)
        if plan.fenced:
            raise refused(Rejection(Refusal.STALE_EPOCH, "event from an older epoch"))
        outcome = "duplicate" if plan.duplicates else plan.processed[event.event_id][1]
        return {"status": outcome, "event_id": event.event_id,
                "entry_id": result.entry_ids.get(event.event_id)}

    @app.post("/v1/internal/trades/executed", dependencies=[internal])
    def trades_executed(body: TradeBody) -> dict[str, Any]:
        return settle_one(trade_event(body), "trade")

    @app.post("/v1/internal/orders/reserve", dependencies=[internal])
    def orders_reserve(body: ReserveBody) -> dict[str, Any]:
        return settle_one(reserve_event(body), "order")

    @app.post("/v1/internal/orders/release", dependencies=[internal])
    def orders_release(body: ReleaseBody) -> dict[str, Any]:
        return settle_one(release_event(body), "order")

    @app.post("/v1/internal/reconciliation/engine-seq", dependencies=[internal])
    def engine_seq(body: EngineSeqBody) -> dict[str, Any]:
        services.reconciliation.report_engine_seq(body.symbol, body.seq)
        return {"symbol": body.symbol, "engine_seq": body.seq}

    @app.get("/v1/balances", dependencies=[reader])
    def balances(account_id: str, asset: str | None = None) -> dict[str, Any]:
        return {"account_id": account_id,
                "balances": services.balances.balances(account_id, asset)}

    @app.post("/v1/admin/adjustments")
    def adjustments(body: AdjustmentBody, who: Principal = admin) -> JSONResponse:
        adj = parse_adjustment(adjustment_id=body.adjustment_id, owner=body.account_id,
                               asset=body.asset, delta=body.delta, kind=body.kind,
                               reason=body.reason, scales=services.scales)
        if isinstance(adj, Rejection):
            raise refused(adj)
        result = services.adjustments.apply(adj, who.name, correlation_id.get())
        if isinstance(result, Rejection):
            raise refused(result)
        return JSONResponse({"adjustment_id": adj.adjustment_id, "entry_id": result.entry_id,
                             "created": result.created},
                            status_code=201 if result.created else 200)

    @app.post("/v1/admin/rebuild-balances")
    def rebuild(body: RebuildBody, who: Principal = admin) -> dict[str, Any]:
        drift = services.invariants.rebuild_balances(who.name, repair=body.repair)
        return {"drift": drift, "repaired": body.repair and bool(drift)}

    @app.post("/v1/admin/invariants/check", dependencies=[admin])
    def invariants() -> dict[str, Any]:
        report = services.invariants.check()
        return {"ok": report.ok, "elapsed_ms": round(report.elapsed_ms, 1),
                "postings": report.postings, "violations": report.violations}

    @app.get("/v1/admin/reconciliation/{symbol}", dependencies=[admin])
    def reconciliation(symbol: str) -> dict[str, Any]:
        r = services.reconciliation.reconcile(symbol)
        return {"symbol": symbol, "engine_seq": r.engine_seq, "ledger_seq": r.ledger_seq,
                "epoch": r.epoch, "in_sync": r.in_sync,
                "gaps": [{"from_seq": a, "to_seq": b} for a, b in r.gaps]}

    @app.post("/v1/admin/corrections/requests")
    def correction_request(body: CorrectionBody, who: Principal = admin) -> JSONResponse:
        state = services.corrections.request(body.entry_id, body.reason, who.name)
        if isinstance(state, Rejection):
            raise refused(state)
        return JSONResponse(_correction_json(state), status_code=201)

    @app.post("/v1/admin/corrections/{correction_id}/approve")
    def correction_approve(correction_id: str, who: Principal = approver) -> dict[str, Any]:
        state = services.corrections.approve(correction_id, who.name)
        if isinstance(state, Rejection):
            raise refused(state)
        return _correction_json(state)

    @app.post("/v1/admin/corrections/{correction_id}/apply")
    def correction_apply(correction_id: str, who: Principal = admin) -> dict[str, Any]:
        state = services.corrections.apply(correction_id, who.name)
        if isinstance(state, Rejection):
            raise refused(state)
        return _correction_json(state)

    return app


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _install_handlers(app: FastAPI, services: LedgerServices) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                            for e in exc.errors()[:10])
        return _error(400, "invalid_request", details or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "not_found" if exc.status_code == 404 else "http_error",
                      str(exc.detail))

    @app.middleware("http")
    async def correlate(request: Request,
                        call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        cid = request.headers.get("x-request-id", "")[:100] or str(uuid.uuid4())
        token = correlation_id.set(cid)
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error", extra={"path": request.url.path})
            response = _error(500, "internal_error", "internal error")
        finally:
            correlation_id.reset(token)
        response.headers["x-request-id"] = cid
        route = request.scope.get("route")
        services.metrics.http.labels(getattr(route, "path", "unmatched"),
                                     str(response.status_code)).inc()
        return response
