"""A private single-node Kafka (KRaft) on its own loopback ports, for tests that must stop
and restart the broker, or need topics no other test writes to, without touching the
local stack's broker. Jars: infra/local/lib (fetched by `make setup` with
infra/local/pom.xml); a clear failure when they are missing."""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

# libs/exchange-testkit/src/exchange_testkit/private_kafka.py -> the repository root
_REPO = Path(__file__).resolve().parents[4]
_JAR_DIRS = (_REPO / "infra" / "local" / "lib",)


def kafka_lib() -> Path:
    for directory in _JAR_DIRS:
        if directory.is_dir() and any(directory.glob("kafka_2.13-*.jar")):
            return directory
    raise RuntimeError(
        "Kafka jars not found in infra/local/lib (run `make setup`, which fetches them with "
        "infra/local/pom.xml)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateKafka:
    def __init__(self, directory: Path) -> None:
        if shutil.which("java") is None:
            raise RuntimeError("java is not installed (needed for the private Kafka broker)")
        self.directory = directory
        self.port, self.controller_port = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._lib = kafka_lib()
        self._proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self._config = directory / "server.properties"
        self._config.write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={directory / 'data'}", "num.partitions=3",
            "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1", "group.initial.rebalance.delay.ms=0", "",
        ]))
        (directory / "log4j2.properties").write_text(
            "status = warn\nappender.console.type = Console\nappender.console.name = STDOUT\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = warn\nrootLogger.appenderRef.stdout.ref = STDOUT\n")
        cluster = subprocess.run(
            ["java", "-cp", f"{self._lib}/*", "kafka.tools.StorageTool", "random-uuid"],
            check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run(
            ["java", "-cp", f"{self._lib}/*", "kafka.tools.StorageTool", "format", "-t", cluster,
             "-c", str(self._config), "--ignore-formatted"], check=True, capture_output=True)

    def start(self, timeout_s: float = 60.0) -> None:
        log = open(self.directory / "kafka.log", "ab")  # noqa: SIM115 - owned by the process
        self._proc = subprocess.Popen(
            ["java", "-Xmx384m", "-cp", f"{self._lib}/*",
             f"-Dlog4j2.configurationFile=file:{self.directory / 'log4j2.properties'}",
             "kafka.Kafka", str(self._config)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"private Kafka exited: see {self.directory / 'kafka.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("private Kafka did not open its port in time")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None
