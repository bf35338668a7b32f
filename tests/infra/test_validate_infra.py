"""scripts/validate_infra.sh passes on the repo and catches the mistakes it is there for."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _validate(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts/validate_infra.sh"), str(root)], capture_output=True, text=True,
        timeout=120, check=False,
    )


@pytest.fixture
def infra_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "infra", tmp_path / "infra", ignore=shutil.ignore_patterns("lib"))
    return tmp_path


def test_the_repository_infra_passes() -> None:
    done = _validate(REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("validate_infra: OK")


def test_a_port_off_the_seed_list_fails(infra_copy: Path) -> None:
    compose = infra_copy / "infra/compose/docker-compose.yml"
    text = compose.read_text().replace('"127.0.0.1:6380:6380"', '"127.0.0.1:6390:6380"')
    compose.write_text(text)
    done = _validate(infra_copy)
    assert done.returncode == 1
    assert "port 6390 is not on the seed's port list" in done.stderr
    assert "seed port 6380 (redis) is not published" in done.stderr


def test_a_port_published_beyond_loopback_fails(infra_copy: Path) -> None:
    compose = infra_copy / "infra/compose/docker-compose.yml"
    text = compose.read_text().replace('"127.0.0.1:5432:5432"', '"0.0.0.0:5432:5432"')
    compose.write_text(text)
    done = _validate(infra_copy)
    assert done.returncode == 1
    assert "published on 0.0.0.0" in done.stderr


def test_a_mounted_file_that_does_not_exist_fails(infra_copy: Path) -> None:
    (infra_copy / "infra/compose/prometheus.yml").unlink()
    done = _validate(infra_copy)
    assert done.returncode == 1
    assert "mounts ./prometheus.yml, which does not exist" in done.stderr


def test_a_manifest_that_is_not_yaml_fails(infra_copy: Path) -> None:
    (infra_copy / "infra/k8s/base/broken.yaml").write_text("kind: [unclosed\n")
    done = _validate(infra_copy)
    assert done.returncode == 1
    assert "infra/k8s/base/broken.yaml: not valid YAML" in done.stderr


def test_a_namespace_without_default_deny_fails(infra_copy: Path) -> None:
    policies = infra_copy / "infra/k8s/base/network-policies.yaml"
    docs = policies.read_text().split("\n---\n")
    kept = [d for d in docs if not ("name: default-deny-all" in d and "namespace: ledger" in d)]
    policies.write_text("\n---\n".join(kept))
    done = _validate(infra_copy)
    assert done.returncode == 1
    assert "namespace ledger has no default-deny policy" in done.stderr


def test_an_application_pointing_at_a_missing_folder_fails(infra_copy: Path) -> None:
    shutil.rmtree(infra_copy / "infra/k8s/overlays/staging")
    done = _validate(infra_copy)
    assert done.returncode == 1
    assert "source.path 'infra/k8s/overlays/staging' is not a folder" in done.stderr
