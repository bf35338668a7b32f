"""The set of use-case objects the HTTP API and the runtime share (no web imports here)."""

from collections.abc import Callable
from dataclasses import dataclass

from exchange_ledger.adapters.adjustment_store import AdjustmentStore
from exchange_ledger.adapters.auth import TokenAuthority
from exchange_ledger.adapters.balance_reader import BalanceReader
from exchange_ledger.adapters.correction_store import CorrectionStore
from exchange_ledger.adapters.invariant_checker import InvariantChecker
from exchange_ledger.adapters.metrics import LedgerMetrics
from exchange_ledger.adapters.reconciliation_store import ReconciliationStore
from exchange_ledger.app.ports import SettlementStore
from exchange_ledger.domain.assets import AssetScales


@dataclass
class LedgerServices:
    settlement: SettlementStore
    adjustments: AdjustmentStore
    corrections: CorrectionStore
    invariants: InvariantChecker
    reconciliation: ReconciliationStore
    balances: BalanceReader
    authority: TokenAuthority
    metrics: LedgerMetrics
    scales: AssetScales
    ready: Callable[[], dict[str, bool]]
