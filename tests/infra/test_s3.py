"""S3 store of the local stack: the platform's buckets exist and objects round-trip."""

import hashlib
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from mypy_boto3_s3 import S3Client

from exchange_testkit import Endpoints

pytestmark = pytest.mark.integration
BUCKETS = ("exchange-wal-archive", "exchange-snapshots", "exchange-dr-backups")


@pytest.fixture
def s3(s3_endpoint: str, endpoints: Endpoints) -> Iterator[S3Client]:
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key, region_name="us-east-1",
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
    )
    yield client
    client.close()


@pytest.mark.parametrize("bucket", BUCKETS)
def test_the_platform_bucket_exists(s3: S3Client, bucket: str) -> None:
    s3.head_bucket(Bucket=bucket)


def test_an_object_put_in_the_wal_archive_gets_back_byte_for_byte(s3: S3Client) -> None:
    key = f"stack-probe/{uuid.uuid4().hex}/segment-000001.wal"
    body = bytes(range(256)) * 1024
    try:
        s3.put_object(Bucket="exchange-wal-archive", Key=key, Body=body)
        got = s3.get_object(Bucket="exchange-wal-archive", Key=key)["Body"].read()
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()
    finally:
        s3.delete_object(Bucket="exchange-wal-archive", Key=key)
    listed = s3.list_objects_v2(Bucket="exchange-wal-archive", Prefix=key)
    assert listed.get("KeyCount", 0) == 0
