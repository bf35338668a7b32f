"""Static checks of infra/: the compose file, the k8s manifests and the GitOps apps.

Run as ``scripts/validate_infra.sh [REPO_ROOT]``. Prints every problem found (file and
what is wrong) and exits 1 if there is any; exits 0 with a one-line summary otherwise.
"""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# The seed's local endpoints: every port the compose file publishes must be one of these.
SEED_PORTS = {
    5432: "postgres", 6380: "redis", 19092: "redpanda kafka", 18082: "redpanda http proxy",
    18123: "clickhouse http", 19000: "clickhouse tcp", 19002: "minio api",
    19001: "minio console", 14317: "otlp grpc", 14318: "otlp http", 19090: "prometheus",
    8081: "edge-gateway", 8082: "ledger-service",
}
# Infrastructure ports the compose file must publish (the services run outside it).
REQUIRED_COMPOSE_PORTS = set(SEED_PORTS) - {8081, 8082}
NAMESPACES = {"core", "edge", "ledger", "streaming", "infra"}
CLUSTER_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


class Report:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.errors: list[str] = []
        self.files = 0
        self.documents = 0

    def error(self, path: Path, message: str) -> None:
        self.errors.append(f"{path.relative_to(self.root)}: {message}")


def _load_all(report: Report, path: Path) -> list[dict[str, Any]]:
    report.files += 1
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as exc:
        report.error(path, f"not valid YAML: {exc}".replace("\n", " "))
        return []
    report.documents += len(docs)
    good = [d for d in docs if isinstance(d, dict)]
    if len(good) != len(docs):
        report.error(path, "a document is not a mapping")
    return good


def _published(entry: object) -> tuple[str, int] | None:
    """('127.0.0.1', 5432) from '127.0.0.1:5432:5432'; None when it does not parse."""
    if not isinstance(entry, str):
        return None
    parts = entry.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def check_compose(report: Report) -> None:
    path = report.root / "infra/compose/docker-compose.yml"
    if not path.exists():
        report.error(path, "missing")
        return
    docs = _load_all(report, path)
    if len(docs) != 1 or not isinstance(docs[0].get("services"), dict):
        report.error(path, "expected one document with a services mapping")
        return
    compose = docs[0]
    services: dict[str, Any] = compose["services"]
    volumes = set(compose.get("volumes") or {})
    published: dict[int, str] = {}
    for name, service in services.items():
        if not isinstance(service, dict) or not service.get("image"):
            report.error(path, f"service {name}: no image")
            continue
        for entry in service.get("ports") or []:
            _check_port(report, path, name, entry, published)
        for entry in service.get("volumes") or []:
            _check_volume(report, path, name, entry, volumes)
        for dep in service.get("depends_on") or {}:
            if dep not in services:
                report.error(path, f"service {name}: depends_on unknown service {dep}")
    for port in sorted(REQUIRED_COMPOSE_PORTS - set(published)):
        report.error(path, f"seed port {port} ({SEED_PORTS[port]}) is not published")


def _check_port(
    report: Report, path: Path, name: str, entry: object, published: dict[int, str]
) -> None:
    parsed = _published(entry)
    if parsed is None:
        report.error(path, f"service {name}: port {entry!r} is not HOST_IP:HOST:CONTAINER")
        return
    host, port = parsed
    if host != "127.0.0.1":
        report.error(path, f"service {name}: port {port} published on {host}, not 127.0.0.1")
    if port not in SEED_PORTS:
        report.error(path, f"service {name}: port {port} is not on the seed's port list")
    if port in published:
        report.error(path, f"service {name}: port {port} already published by {published[port]}")
    published[port] = name


def _check_volume(
    report: Report, path: Path, name: str, entry: object, volumes: set[str]
) -> None:
    if not isinstance(entry, str):
        report.error(path, f"service {name}: volume {entry!r} is not a string")
        return
    source = entry.split(":")[0]
    if source.startswith((".", "/")):
        if not (path.parent / source).resolve().exists():
            report.error(path, f"service {name}: mounts {source}, which does not exist")
    elif source not in volumes:
        report.error(path, f"service {name}: named volume {source} is not declared")


def _manifests(root: Path, folder: str) -> Iterator[Path]:
    yield from sorted((root / folder).rglob("*.yaml"))


def check_k8s(report: Report) -> None:
    denied: set[str] = set()
    for path in _manifests(report.root, "infra/k8s"):
        for doc in _load_all(report, path):
            if path.name == "kustomization.yaml":
                _check_kustomization(report, path, doc)
                continue
            _check_object(report, path, doc)
            spec = doc.get("spec") or {}
            if doc.get("kind") == "NetworkPolicy" and spec.get("podSelector") == {} and (
                not spec.get("ingress") and not spec.get("egress")
                and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}
            ):
                denied.add(str(doc["metadata"].get("namespace")))
    for namespace in sorted(NAMESPACES - denied):
        report.error(report.root / "infra/k8s", f"namespace {namespace} has no default-deny policy")


def _check_object(report: Report, path: Path, doc: dict[str, Any]) -> None:
    kind = doc.get("kind")
    meta = doc.get("metadata")
    if not doc.get("apiVersion") or not kind or not isinstance(meta, dict) or not meta.get("name"):
        report.error(path, "an object lacks apiVersion, kind or metadata.name")
        return
    namespace = meta.get("namespace")
    if kind not in CLUSTER_KINDS and namespace not in NAMESPACES:
        report.error(path, f"{kind} {meta['name']}: namespace {namespace!r} is not one of ours")
    if kind in {"Deployment", "StatefulSet"}:
        spec = doc.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            report.error(path, f"{kind} {meta['name']}: selector does not match the pod labels")
        if kind == "StatefulSet" and not spec.get("volumeClaimTemplates"):
            report.error(path, f"StatefulSet {meta['name']}: no volumeClaimTemplates")


def _check_kustomization(report: Report, path: Path, doc: dict[str, Any]) -> None:
    for resource in doc.get("resources") or []:
        if not (path.parent / str(resource)).exists():
            report.error(path, f"resource {resource} does not exist")


def check_gitops(report: Report) -> None:
    projects: set[str] = set()
    apps: list[tuple[Path, dict[str, Any]]] = []
    for path in _manifests(report.root, "infra/gitops"):
        for doc in _load_all(report, path):
            name = (doc.get("metadata") or {}).get("name")
            if doc.get("kind") == "AppProject":
                projects.add(str(name))
            elif doc.get("kind") == "Application":
                apps.append((path, doc))
            else:
                report.error(path, f"unexpected kind {doc.get('kind')!r}")
    envs = set()
    for path, app in apps:
        spec = app.get("spec") or {}
        source_path = (spec.get("source") or {}).get("path")
        if not source_path or not (report.root / str(source_path)).is_dir():
            report.error(path, f"source.path {source_path!r} is not a folder of the repo")
        if spec.get("project") not in projects:
            report.error(path, f"project {spec.get('project')!r} is not an AppProject here")
        envs.add(((app.get("metadata") or {}).get("labels") or {}).get("exchange.io/env"))
    for env in sorted({"dev", "staging", "prod"} - envs):
        report.error(report.root / "infra/gitops", f"no Application for {env}")


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[2]).resolve()
    report = Report(root)
    check_compose(report)
    check_k8s(report)
    check_gitops(report)
    for line in report.errors:
        print(f"validate_infra: {line}", file=sys.stderr)
    if report.errors:
        print(f"validate_infra: FAILED ({len(report.errors)} problems)", file=sys.stderr)
        return 1
    print(f"validate_infra: OK ({report.files} files, {report.documents} documents)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
