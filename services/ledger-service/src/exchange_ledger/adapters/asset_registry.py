"""The assets table: configured assets are registered once; a scale never changes."""

import psycopg

from exchange_ledger.adapters.connections import ConnectionSource


class AssetScaleConflictError(RuntimeError):
    """A configured asset exists with another scale (amounts would change meaning)."""


def register_assets(connect: ConnectionSource, wanted: dict[str, int]) -> dict[str, int]:
    """Insert missing assets; return every asset's scale. Refuses a changed scale."""
    with connect() as conn, conn.transaction():
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO assets (asset, scale) VALUES (%s, %s)"
                            " ON CONFLICT DO NOTHING", sorted(wanted.items()))
        return _check(conn, wanted)


def _check(conn: psycopg.Connection, wanted: dict[str, int]) -> dict[str, int]:
    scales = {str(a): int(s) for a, s in conn.execute("SELECT asset, scale FROM assets")}
    for asset, scale in sorted(wanted.items()):
        if scales[asset] != scale:
            raise AssetScaleConflictError(
                f"asset {asset} has scale {scales[asset]} in the ledger, configured {scale}")
    return scales
