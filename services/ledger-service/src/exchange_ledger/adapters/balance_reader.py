"""Reading balances (available and hold per asset) for one account."""

from typing import Any

from exchange_common.money import format_units
from exchange_ledger.adapters.connections import ConnectionSource
from exchange_ledger.domain.assets import AssetScales


class BalanceReader:
    def __init__(self, connect: ConnectionSource, scales: AssetScales) -> None:
        self._connect, self._scales = connect, scales

    def balances(self, owner: str, asset: str | None = None) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT asset, kind, units FROM balances WHERE owner = %s"
                " AND (%s::text IS NULL OR asset = %s) ORDER BY asset, kind",
                (owner, asset, asset)).fetchall()
        out: dict[str, dict[str, Any]] = {}
        for row_asset, kind, units in rows:
            item = out.setdefault(row_asset, {"asset": row_asset, "available": "0", "hold": "0"})
            item[kind] = format_units(int(units), self._scales.get(row_asset, 0))
        return list(out.values())
