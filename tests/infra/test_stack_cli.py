"""scripts/stack.sh: what it reports, which ports it picks, and what it refuses to touch."""

import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import psycopg
import pytest

if TYPE_CHECKING:
    from tests.infra.conftest import PrivateStack

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SERVERS = ["postgres", "redis", "kafka", "s3", "chdb", "core", "ledger"]


def test_status_of_a_fresh_stack_dir_names_every_server_as_not_running(
    private_stack: "PrivateStack",
) -> None:
    done = private_stack.run("status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == SERVERS
    states = {line.split()[0]: line.split()[1] for line in lines}
    assert states == {
        "postgres": "stopped", "redis": "stopped", "kafka": "stopped", "s3": "stopped",
        "chdb": "absent", "core": "stopped", "ledger": "stopped",
    }


def test_env_without_overrides_gives_exactly_the_seed_ports(
    unset_stack_env: dict[str, str],
) -> None:
    done = subprocess.run(
        [str(REPO / "scripts/stack.sh"), "env"], env=unset_stack_env, capture_output=True,
        text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines()
    )
    assert exports["LEDGER_DATABASE_URL"] == (
        "'postgresql://exchange:exchange@127.0.0.1:5432/exchange'"
    )
    assert exports["REDIS_URL"] == "'redis://127.0.0.1:6380/0'"
    assert exports["KAFKA_BOOTSTRAP_SERVERS"] == "'127.0.0.1:19092'"
    assert exports["S3_ENDPOINT_URL"] == "'http://127.0.0.1:19002'"
    assert exports["AWS_ACCESS_KEY_ID"] == "'exchange'"
    assert exports["AWS_SECRET_ACCESS_KEY"] == "'exchange-secret'"


def test_env_output_evaluated_by_a_shell_carries_the_overrides(
    private_stack: "PrivateStack",
) -> None:
    script = f'eval "$({REPO}/scripts/stack.sh env)"; echo "$REDIS_URL $STACK_DIR"'
    done = subprocess.run(
        ["bash", "-c", script], env=private_stack.env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [private_stack.env["REDIS_URL"], str(private_stack.dir)]


def test_a_non_loopback_address_is_refused_before_any_connection(
    private_stack: "PrivateStack",
) -> None:
    private_stack.env["REDIS_URL"] = "redis://192.0.2.10:6380/0"  # TEST-NET-1: never contacted
    done = private_stack.run("status")
    assert done.returncode == 1
    assert "not loopback" in done.stderr


def test_down_leaves_alone_a_process_whose_pid_file_is_not_ours(
    private_stack: "PrivateStack",
) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run_dir = private_stack.dir / "run"
        run_dir.mkdir(parents=True)
        for name in ("redis", "kafka", "s3", "postgres"):
            (run_dir / f"{name}.pid").write_text(f"{bystander.pid}\n")
        done = private_stack.run("down")
        assert done.returncode == 0, done.stderr
        assert bystander.poll() is None, "down killed a process it did not start"
        assert "not running" in done.stdout
    finally:
        bystander.send_signal(signal.SIGKILL)
        bystander.wait(timeout=10)


def test_up_then_down_of_redis_alone_starts_and_stops_only_it(
    private_stack: "PrivateStack",
) -> None:
    try:
        up = private_stack.run("up", "--only", "redis")
        assert up.returncode == 0, up.stderr
        status = private_stack.run("status").stdout.splitlines()
        states = {line.split()[0]: line.split()[1] for line in status}
        assert states["redis"] == "running"
        assert states["postgres"] == states["kafka"] == states["s3"] == "stopped"
        assert len(private_stack.processes()) == 1
        again = private_stack.run("up", "--only", "redis")
        assert "already running" in again.stdout
    finally:
        down = private_stack.run("down", "--only", "redis")
    assert down.returncode == 0, down.stderr
    assert private_stack.processes() == []
    assert not (private_stack.dir / "run/redis.pid").exists()


def test_test_script_treats_no_collected_tests_as_a_failure() -> None:
    done = subprocess.run(
        [str(REPO / "scripts/test.sh"), str(Path(__file__)), "-k", "no_test_has_this_name",
         "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 1
    assert "no tests" in done.stderr


def test_up_reuses_a_running_postgres_that_accepts_the_credentials_and_down_spares_it(
    private_stack: "PrivateStack", postgres_dsn: str
) -> None:
    private_stack.env["LEDGER_DATABASE_URL"] = postgres_dsn
    up = private_stack.run("up", "--only", "postgres")
    assert up.returncode == 0, up.stderr
    assert "reusing" in up.stdout
    assert private_stack.run("status", "--only", "postgres").stdout.split()[1] == "external"

    down = private_stack.run("down", "--only", "postgres")
    assert down.returncode == 0, down.stderr
    with psycopg.connect(postgres_dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_up_fails_naming_the_port_when_it_is_taken_by_another_kind_of_server(
    private_stack: "PrivateStack", postgres_dsn: str
) -> None:
    pg_port = urlparse(postgres_dsn).port
    private_stack.env["REDIS_URL"] = f"redis://127.0.0.1:{pg_port}/0"
    done = private_stack.run("up", "--only", "redis")
    assert done.returncode == 1
    assert f"port 127.0.0.1:{pg_port} is taken by something that is not Redis" in done.stderr
