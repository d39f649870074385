"""sweeper's own rules for its pods, on every rendered overlay: the worker pod's command and GPU,
exit codes as the failure policies read them (setup errors fail the Job, disruptions are ignored,
143 is never a success), a grace period longer than a re-queue, nothing exposed outside the
cluster, no credential in a manifest, and a database with connections for every worker."""

from __future__ import annotations

import math
import re

import pytest

from sweeper.errors import ConfigError, NoStudyError, StorageError
from sweeper.settings import Settings
from sweeper.storage import RETRY_SECONDS
from sweeper.worker.backend import default_threads
from sweeper.worker.supervisor import SETUP_ERRORS
from tests.deploy_tests import kubelet
from tests.deploy_tests.job_policy import after_counted_failures, failed_pod_action
from tests.deploy_tests.manifests import (
    REQUEUE_ALLOWANCE_S,
    SAMPLE_URL,
    Doc,
    containers,
    db_secret,
    job_specs,
    of_kind,
    one,
    pod_templates,
    rendered,
    worker_job,
)

SWEEPER_CONTAINERS = ("launch", "worker", "dashboard", "report")
# Connections besides the worker pods': launch, dashboard, one report Job, and PostgreSQL's own
# superuser_reserved_connections (3 by default).
OTHER_CONNECTIONS = 2 + 2 + 2 + 3
# A worker process's share of its pod (docs/deployment.md, "Worker pods sized per process").
PROCESS_CPU, PROCESS_MEMORY_GIB = 1.5, 6


def _worker_argv(docs: list[Doc]) -> list[str]:
    container = worker_job(docs)["spec"]["template"]["spec"]["containers"][0]
    config = {d["metadata"]["name"]: d["data"] for d in of_kind(docs, "ConfigMap")}
    url = "postgresql+psycopg2://u:p@h/d"
    env = kubelet.container_env(container, config, {"sweeper-db": {"url": url, "pooled-url": url}})
    return kubelet.container_argv(container, env)


def test_each_worker_pod_is_a_gpu_supervisor_on_one_gpu(overlay: str) -> None:
    docs = rendered(overlay)
    argv = _worker_argv(docs)
    assert argv[:5] == ["sweeper", "worker", "--gpus", "all", "--per-gpu"] and len(argv) == 6, argv
    assert int(argv[5]) >= 1
    spec = worker_job(docs)["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["completionMode"] == "Indexed" and spec["parallelism"] == spec["completions"] >= 1


@pytest.mark.parametrize(("job", "codes"), [
    ("Job/sweeper-workers", sorted(SETUP_ERRORS)),
    ("Job/sweeper-launch", [ConfigError.exit_code]),
    ("CronJob/sweeper-report", [2, 5, 7]),
])
def test_setup_errors_fail_the_job_and_everything_else_is_retried(overlay: str, job: str, codes: list[int]) -> None:
    spec = dict(job_specs(rendered(overlay)))[job]
    container = spec["template"]["spec"]["containers"][0]["name"]
    for code in codes:
        assert failed_pod_action(spec, {container: code}) == "FailJob", code
    # Storage (3), data (4), a worker giving up (6), OOM or SIGKILL (137), SIGTERM (143):
    # retried, and counted against backoffLimit.
    for code in sorted({StorageError.exit_code, 4, 6, 137, 143} - set(codes)):
        assert failed_pod_action(spec, {container: code}) == "Count", code
    # An evicted, preempted or drained pod is replaced without counting.
    assert failed_pod_action(spec, {container: 143}, {"DisruptionTarget": "True"}) == "Ignore"


def test_one_bad_node_does_not_end_the_worker_job(overlay: str) -> None:
    """Failures count per index: 11 pod failures on 11 indexes (node losses spread over a big
    fleet) end nothing, and one index failing again and again (its pods keep landing on a bad
    node) fails that index only, while the other pods go on with the sweep."""
    spec = worker_job(rendered(overlay))["spec"]
    assert spec["completionMode"] == "Indexed" and spec["backoffLimitPerIndex"] >= 1
    assert "backoffLimit" not in spec and "maxFailedIndexes" not in spec
    spread = after_counted_failures({**spec, "completions": 200}, list(range(11)))
    assert not spread.job_failed and not spread.failed_indexes
    retries = spec["backoffLimitPerIndex"]
    bad_node = after_counted_failures(spec, [0] * (retries + 1))
    assert not bad_node.job_failed and bad_node.failed_indexes == {0}
    # What a Job-wide limit of 10 (the spec before) did with the same 11 failures: ended every pod.
    assert after_counted_failures({"backoffLimit": 10}, list(range(11))).job_failed


def test_worker_pods_are_sized_per_process(overlay: str) -> None:
    """CPU and memory are SWEEPER_PER_GPU times a process's share, requested as limited
    (Guaranteed), and SWEEPER_THREADS reads the CPU limit, which the supervisor divides."""
    docs = rendered(overlay)
    per_gpu = int(_worker_argv(docs)[5])
    container = worker_job(docs)["spec"]["template"]["spec"]["containers"][0]
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    for name in ("cpu", "memory"):
        assert kubelet.quantity(requests[name]) == kubelet.quantity(limits[name]), name
    assert kubelet.quantity(limits["cpu"]) >= per_gpu * PROCESS_CPU
    assert kubelet.quantity(limits["memory"]) >= per_gpu * PROCESS_MEMORY_GIB * 2**30
    config = {d["metadata"]["name"]: d["data"] for d in of_kind(docs, "ConfigMap")}
    env = kubelet.container_env(container, config, {"sweeper-db": {"url": SAMPLE_URL, "pooled-url": SAMPLE_URL}})
    threads = int(env["SWEEPER_THREADS"])
    assert threads == math.ceil(kubelet.quantity(limits["cpu"]))
    assert Settings.resolve({}, environ=env).threads == threads
    assert default_threads(per_gpu, threads) >= 1


def test_eight_processes_per_gpu_get_eight_times_the_resources() -> None:
    """components/per-gpu-8 on top of prod (as overlays/fleet uses it) sets both together."""
    prod, fleet = (worker_job(rendered(o))["spec"]["template"]["spec"]["containers"][0] for o in ("prod", "fleet"))
    assert int(_worker_argv(rendered("prod"))[5]) == 2 and int(_worker_argv(rendered("fleet"))[5]) == 8
    for name in ("cpu", "memory"):
        assert kubelet.quantity(fleet["resources"]["limits"][name]) == 4 * kubelet.quantity(prod["resources"]["limits"][name])


def test_worker_exit_codes_mean_what_the_worker_job_says(overlay: str) -> None:
    """The FailJob codes are the ones the supervisor passes on, not a copy that may drift."""
    rules = worker_job(rendered(overlay))["spec"]["podFailurePolicy"]["rules"]
    (fail,) = [r for r in rules if r["action"] == "FailJob"]
    assert fail["onExitCodes"]["values"] == sorted(SETUP_ERRORS) == sorted([ConfigError.exit_code, NoStudyError.exit_code])
    # Only a disruption is ignored: no exit code (143 above all) is let off.
    assert all("onPodConditions" in r for r in rules if r["action"] == "Ignore")


def test_exit_143_is_never_a_success(overlay: str) -> None:
    """Kubernetes counts a pod as succeeded only when its containers exit 0: the worker container
    must run sweeper itself (exec form), with no shell or success policy that could turn a stopped
    worker into a success."""
    for where, spec in job_specs(rendered(overlay)):
        assert "successPolicy" not in spec, where
        for container in containers(spec["template"]["spec"]):
            command = [*container.get("command", []), *container.get("args", [])]
            if command[0] == "sh":
                assert command[-1].startswith("set -f; exec sweeper "), f"{where}: {command[-1]}"
                assert not re.search(r"[;&|]", command[-1].removeprefix("set -f; ")), f"{where}: one command only"
            else:
                assert command[0] == "sweeper", where


def test_grace_period_outlasts_a_requeue_through_a_database_outage(overlay: str) -> None:
    spec = worker_job(rendered(overlay))["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] > RETRY_SECONDS + REQUEUE_ALLOWANCE_S


def test_nothing_is_reachable_from_outside_the_cluster(overlay: str) -> None:
    docs = rendered(overlay)
    assert not of_kind(docs, "Ingress", "Gateway", "HTTPRoute", "Route")
    for service in of_kind(docs, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]["name"]
        assert "externalIPs" not in service["spec"]
    for where, template in pod_templates(docs):
        assert not template["spec"].get("hostNetwork"), where
        assert not any("hostPort" in p for c in containers(template["spec"]) for p in c.get("ports", [])), where


def test_no_credential_is_in_a_manifest(overlay: str) -> None:
    docs = rendered(overlay)
    assert not of_kind(docs, "Secret")
    # Neither the password db_secret.py would make nor any URL with a password appears in the text.
    text = str(docs)
    assert not re.search(r"postgresql[+\w]*://[^@\s'\"]+:[^@\s'\"]+@", text)
    for where, template in pod_templates(docs):
        for container in containers(template["spec"]):
            for item in container.get("env", []):
                if item["name"] in ("SWEEPER_STORAGE", "POSTGRES_PASSWORD"):
                    assert "secretKeyRef" in item.get("valueFrom", {}), f"{where}: {item['name']}"


def test_every_sweeper_container_runs_one_image(overlay: str) -> None:
    images = {c["image"] for _, t in pod_templates(rendered(overlay)) for c in containers(t["spec"])
              if c["name"] in SWEEPER_CONTAINERS}
    assert len(images) == 1, images
    (image,) = images
    if overlay in ("prod", "fleet"):  # every worker must run the same code: a pinned tag or a digest
        assert "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), image


def test_prod_workers_go_to_gpu_nodes_only() -> None:
    spec = worker_job(rendered("prod"))["spec"]["template"]["spec"]
    assert spec["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" and t["effect"] == "NoSchedule" for t in spec["tolerations"])


def test_dev_database_has_a_connection_for_every_worker() -> None:
    """README's sizing rule: N worker pods x K workers x 2 connections, plus the others."""
    docs = rendered("dev")
    postgres = one(docs, "StatefulSet", "sweeper-postgres")["spec"]["template"]["spec"]["containers"][0]
    (setting,) = [a for a in postgres["args"] if a.startswith("max_connections=")]
    pods = worker_job(docs)["spec"]["parallelism"]
    per_gpu = int(_worker_argv(docs)[5])
    assert pods * per_gpu * 2 + OTHER_CONNECTIONS <= int(setting.split("=")[1])


def test_fleet_workers_go_through_the_pooler_and_the_rest_straight_to_the_database() -> None:
    """components/pooler: the worker pods' URL names the PgBouncer Service, whose config the
    Secret completes with the server named in SWEEPER_STORAGE; launch and dashboard stay direct."""
    docs = rendered("fleet")
    keys = {}
    for where, template in pod_templates(docs):
        for container in containers(template["spec"]):
            for item in container.get("env", []):
                if item["name"] == "SWEEPER_STORAGE":
                    keys[where] = item["valueFrom"]["secretKeyRef"]["key"]
    assert keys["Job/sweeper-workers"] == "pooled-url"
    assert {k for w, k in keys.items() if w != "Job/sweeper-workers"} == {"url"}
    ini = one(docs, "ConfigMap", "sweeper-pgbouncer")["data"]["pgbouncer.ini"]
    assert "pool_mode = transaction" in ini and "%include /etc/pgbouncer-secret/databases.ini" in ini
    secret = db_secret("fleet")["stringData"]
    assert secret["pooled-url"] == SAMPLE_URL.replace("db.example.internal:5432", "sweeper-pgbouncer:5432")
    assert secret["pgbouncer-databases"] == "[databases]\nsweeper = host=db.example.internal port=5432 dbname=sweeper\n"
    assert secret["pgbouncer-userlist"].startswith('"sweeper" "s3cret"\n"pgbouncer_stats" ')
    assert "stats_users = pgbouncer_stats" in ini


def test_the_pooler_is_no_single_point_of_failure() -> None:
    """Two PgBouncer pods, spread over nodes, and a disruption budget that a drain can meet one
    pod at a time (minAvailable below the replicas, or the drain would wait for ever)."""
    docs = rendered("fleet")
    deployment = one(docs, "Deployment", "sweeper-pgbouncer")
    replicas = deployment["spec"]["replicas"]
    assert replicas >= 2
    (budget,) = of_kind(docs, "PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in budget["spec"]["selector"]["matchLabels"].items())
    assert 1 <= budget["spec"]["minAvailable"] < replicas
    (spread,) = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert all(labels.get(k) == v for k, v in spread["labelSelector"]["matchLabels"].items())
    # Its image is pinned, as the sweeper image is: every restart runs the tested PgBouncer.
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    image = container["image"]
    assert "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), image


def test_the_secret_holds_what_each_overlay_needs() -> None:
    dev, prod = db_secret("dev")["stringData"], db_secret("prod")["stringData"]
    assert set(dev) == {"postgres-password", "url"} and set(prod) == {"url"}
    assert f":{dev['postgres-password']}@sweeper-postgres:5432/" in dev["url"]
    assert db_secret("dev")["stringData"]["postgres-password"] != dev["postgres-password"]  # fresh each time
