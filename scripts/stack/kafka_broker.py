"""Kafka: a KRaft single node (broker + controller) from the Maven jars, then the topics.

Storage is formatted once (``meta.properties`` marks it); the broker runs in its own
session so a terminal's Ctrl-C does not reach it, and stops cleanly on SIGTERM.
"""

import base64
import shutil
import string
import subprocess
import time
import uuid
from pathlib import Path

from stack import process
from stack.errors import StackError
from stack.server import Status, VersionBook
from stack.settings import Settings

START_TIMEOUT_S = 90
TOPIC_PARTITIONS = 3


class KafkaBroker:
    name = "kafka"

    def __init__(self, settings: Settings, versions: VersionBook) -> None:
        self._s = settings
        self._versions = versions
        self._dir = settings.stack_dir / "kafka"
        self._data = self._dir / "data"
        self._props = self._dir / "server.properties"
        self._pid_file = settings.pid_file(self.name)
        self._log = settings.log_file(self.name)
        self._marker = str(self._props)

    @property
    def _address(self) -> str:
        return f"{self._s.kafka.host}:{self._s.kafka.port}"

    def _owned_pid(self) -> int | None:
        return process.owned_pid(self._pid_file, self._marker)

    def up(self) -> str:
        if self._owned_pid() is not None:
            return f"{self.name}: already running on {self._address}"
        if process.port_open(self._s.kafka.host, self._s.kafka.port) and self._answers():
            created = self._create_topics()
            return (
                f"{self.name}: reusing the broker already on {self._address} (not ours; "
                f"topics created: {len(created)})"
            )
        for port in (self._s.kafka.port, self._s.kafka_controller_port):
            if process.port_open(self._s.kafka.host, port):
                raise StackError(
                    f"{self.name}: port {self._s.kafka.host}:{port} is taken by another "
                    "process; stop it or set KAFKA_BOOTSTRAP_SERVERS / KAFKA_CONTROLLER_PORT"
                )
        java = self._java()
        for path in (self._data, self._s.run_dir, self._s.log_dir):
            path.mkdir(parents=True, exist_ok=True)
        self._render_properties()
        if not (self._data / "meta.properties").exists():
            self._format(java)
        self._start(java)
        created = self._create_topics()
        self._versions.put(self.name, self._version())
        return f"{self.name}: started on {self._address} (topics created: {len(created)})"

    def down(self) -> str:
        pid = self._owned_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return f"{self.name}: not running (nothing of ours)"
        result = process.stop_pid(pid, self._marker, timeout_s=60)
        self._pid_file.unlink(missing_ok=True)
        return f"{self.name}: {result}"

    def status(self) -> Status:
        pid = self._owned_pid()
        version = self._versions.get(self.name) or self._version()
        if pid is not None:
            return Status(self.name, "running", pid, self._address, version, str(self._data))
        if process.port_open(self._s.kafka.host, self._s.kafka.port):
            return Status(self.name, "external", None, self._address, "", "not started by us")
        return Status(self.name, "stopped", None, self._address, version)

    # -- steps ---------------------------------------------------------------------------

    def _jars(self) -> list[Path]:
        jars = sorted(self._s.kafka_lib_dir.glob("kafka_2.13-*.jar"))
        return [j for j in jars if not j.name.endswith(("-test.jar", "-sources.jar"))]

    def _java(self) -> str:
        if not self._jars():
            raise StackError(
                f"{self.name}: no Kafka jars in {self._s.kafka_lib_dir}; run scripts/setup.sh"
            )
        java = shutil.which("java")
        if java is None:
            raise StackError(f"{self.name}: java not found; run scripts/setup.sh")
        return java

    def _classpath(self) -> str:
        return f"{self._s.kafka_lib_dir}/*"

    def _logging(self) -> str:
        return f"-Dlog4j2.configurationFile=file:{self._s.repo / 'infra/local/log4j2.properties'}"

    def _render_properties(self) -> None:
        template = (self._s.repo / "infra/local/server.properties.template").read_text()
        text = string.Template(template).substitute(
            host=self._s.kafka.host,
            port=self._s.kafka.port,
            controller_port=self._s.kafka_controller_port,
            data_dir=self._data,
        )
        self._props.write_text(text)

    def _format(self, java: str) -> None:
        tool = [java, "-cp", self._classpath(), self._logging(), "kafka.tools.StorageTool"]
        cluster_id = cluster_uuid()
        with self._log.open("ab") as out:
            done = subprocess.run(
                [*tool, "format", "-t", cluster_id, "-c", str(self._props), "--ignore-formatted"],
                stdout=out, stderr=subprocess.STDOUT, check=False, timeout=120,
            )
        if done.returncode != 0:
            raise StackError(f"{self.name}: storage format failed; read {self._log}")

    def _start(self, java: str) -> None:
        cmd = [
            java, f"-Xmx{self._s.kafka_heap}", "-Djava.awt.headless=true",
            "-cp", self._classpath(), self._logging(), "kafka.Kafka", str(self._props),
        ]
        with self._log.open("ab") as out:
            child = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self._dir,
            )
        process.write_pid(self._pid_file, child.pid)
        process.wait_until(
            lambda: process.port_open(self._s.kafka.host, self._s.kafka.port),
            timeout_s=START_TIMEOUT_S, what=self.name, log=self._log,
            alive=lambda: child.poll() is None,
        )

    def _answers(self) -> bool:
        from confluent_kafka.admin import AdminClient  # noqa: PLC0415 (client libraries load only when a server is touched: status stays fast)

        try:
            AdminClient({"bootstrap.servers": self._address}).list_topics(timeout=5)
            return True
        except Exception:  # librdkafka raises KafkaException or a plain timeout
            return False

    def _create_topics(self) -> list[str]:
        """Create the platform topics; the controller may need a moment after the port opens."""
        from confluent_kafka import KafkaException  # noqa: PLC0415 (client libraries load only when a server is touched: status stays fast)

        from exchange_common.kafka import ensure_topics  # noqa: PLC0415 (same)
        from exchange_common.topics import ALL_TOPICS  # noqa: PLC0415 (same)

        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                return ensure_topics(
                    self._address, ALL_TOPICS, partitions=TOPIC_PARTITIONS, timeout_s=15
                )
            except KafkaException as exc:
                if time.monotonic() >= deadline:
                    raise StackError(
                        f"{self.name}: creating topics failed: {exc}; read {self._log}"
                    ) from None
                time.sleep(0.5)

    def _version(self) -> str:
        jars = self._jars()
        if not jars:
            return ""
        return "Apache Kafka " + jars[-1].name.removeprefix("kafka_2.13-").removesuffix(".jar")


def cluster_uuid() -> str:
    """A Kafka cluster id as ``StorageTool random-uuid`` makes one (base64url of 16 random
    bytes, no padding, never starting with '-'), without starting a JVM for it."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text
