"""Archive of WAL segments and snapshots in the object store (S3 API: SeaweedFS/MinIO).

A local manifest (``archived.txt``, one file name per line, rewritten atomically) says
what is already uploaded, so pruning never deletes a segment the archive lacks.
"""

import os
from pathlib import Path
from typing import Any

from exchange_core.adapters.wal_segment import fsync_dir


def make_s3_client(endpoint: str, access_key: str, secret_key: str) -> Any:
    # Imported here: boto3 costs ~1 s of start-up, paid only when archiving is on.
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, region_name="us-east-1",
        config=Config(retries={"max_attempts": 3, "mode": "standard"},
                      connect_timeout=2, read_timeout=10),
    )


class Archive:
    def __init__(self, s3: Any, *, shard_id: str, wal_bucket: str, snapshot_bucket: str,
                 manifest: Path) -> None:
        self._s3 = s3
        self._shard = shard_id
        self._wal_bucket = wal_bucket
        self._snapshot_bucket = snapshot_bucket
        self._manifest = manifest
        self._done = set(manifest.read_text().split()) if manifest.exists() else set()

    def is_archived(self, path: Path) -> bool:
        return path.name in self._done

    def wal_key(self, path: Path) -> str:
        return f"{self._shard}/wal/{path.name}"

    def snapshot_key(self, path: Path) -> str:
        return f"{self._shard}/snapshots/{path.name}"

    def upload_segment(self, path: Path) -> None:
        self._upload(path, self._wal_bucket, self.wal_key(path))

    def upload_snapshot(self, path: Path) -> None:
        self._upload(path, self._snapshot_bucket, self.snapshot_key(path))

    def _upload(self, path: Path, bucket: str, key: str) -> None:
        if path.name in self._done:
            return
        self._s3.upload_file(str(path), bucket, key)
        self._done.add(path.name)
        self._write_manifest()

    def forget(self, names: list[str]) -> None:
        """Drop local files' names once they are pruned (the objects stay in S3)."""
        self._done.difference_update(names)
        self._write_manifest()

    def _write_manifest(self) -> None:
        temp = self._manifest.with_suffix(".tmp")
        temp.write_text("".join(f"{name}\n" for name in sorted(self._done)))
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.rename(temp, self._manifest)
        fsync_dir(self._manifest.parent)
