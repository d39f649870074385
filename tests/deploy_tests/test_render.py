"""Every overlay of deploy/k8s renders with kustomize and passes `kubernetes-validate --strict`
(the API's JSON schemas, bundled with the package: offline) for the oldest and the newest
Kubernetes version we support; the Secret that db_secret.py prints passes too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy_tests.manifests import K8S, OVERLAYS, db_secret, kustomize, parse, rendered

KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")

EXPECTED = {
    "dev": {"ConfigMap/sweeper-config", "Job/sweeper-launch", "Job/sweeper-workers", "Deployment/sweeper-dashboard",
            "Service/sweeper-dashboard", "CronJob/sweeper-report", "PersistentVolumeClaim/sweeper-reports",
            "StatefulSet/sweeper-postgres", "Service/sweeper-postgres"},
}
EXPECTED["prod"] = EXPECTED["dev"] - {"StatefulSet/sweeper-postgres", "Service/sweeper-postgres"}
EXPECTED["fleet"] = EXPECTED["prod"] | {"Deployment/sweeper-pgbouncer", "Service/sweeper-pgbouncer",
                                       "ConfigMap/sweeper-pgbouncer", "PodDisruptionBudget/sweeper-pgbouncer"}


def _validate(path: Path, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", version, str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_whole_service_in_its_namespace(overlay: str) -> None:
    docs = rendered(overlay)
    assert {f"{d['kind']}/{d['metadata']['name']}" for d in docs} == EXPECTED[overlay]
    assert {d["metadata"].get("namespace") for d in docs} == {"sweeper"}
    assert all(d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "sweeper" for d in docs)


def test_base_renders_without_an_overlay() -> None:
    kinds = {d["kind"] for d in parse(kustomize(K8S / "base"))}
    assert kinds == {"ConfigMap", "Job", "Deployment", "Service", "CronJob", "PersistentVolumeClaim"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_strict_schema_validation(overlay: str, version: str, tmp_path: Path) -> None:
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(yaml.safe_dump_all(rendered(overlay)))
    done = _validate(manifest, version)
    assert done.returncode == 0, done.stdout + done.stderr
    # A kind without a schema is only a WARN with exit 0: every resource must have passed.
    passed = [line for line in done.stdout.splitlines() if line.startswith("INFO") and " passed " in line]
    assert len(passed) == len(rendered(overlay)), done.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_db_secret_passes_strict_schema_validation(overlay: str, version: str, tmp_path: Path) -> None:
    manifest = tmp_path / "secret.json"
    manifest.write_text(json.dumps(db_secret(overlay)))
    done = _validate(manifest, version)
    assert done.returncode == 0 and "passed for resource secret/sweeper-db" in done.stdout, done.stdout


def test_a_schema_violation_is_caught(tmp_path: Path) -> None:
    """The validator really reads the manifests: an unknown field fails it."""
    docs = rendered("prod")
    job = next(d for d in docs if d["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    done = _validate(manifest, KUBERNETES_VERSIONS[0])
    assert done.returncode != 0 and "gpus" in done.stdout
