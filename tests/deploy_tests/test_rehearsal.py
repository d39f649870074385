"""A rehearsal of the pods, without a cluster: the rendered launch and worker pods' commands and
environments (a user's overlay on overlays/prod) run as local processes against a real
PostgreSQL, each worker pod a real `sweeper worker --gpus all --per-gpu K` supervisor with K real
workers. It is a simulation of the pod spec, not of Kubernetes: pods.py says what is stood in for.

The sweep: one pod is sent SIGTERM mid-trial, as an eviction or a preemption does; it must exit
143 at once with its trials re-queued, a replacement pod joins as the Job controller would start
one, and every other pod exits 0 once exactly the budget is finished, by other pods."""

from __future__ import annotations

import math
import shutil
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.errors import ConfigError, NoStudyError
from sweeper.storage import RETRY_SECONDS
from tests.deploy_tests import kubelet
from tests.deploy_tests.job_policy import after_counted_failures, failed_pod_action
from tests.deploy_tests.manifests import REQUEUE_ALLOWANCE_S, Doc
from tests.deploy_tests.pods import REPO, Node, user_overlay
from tests.support.procs import wait_until
from tests.support.postgres import ConnectionSampler, PostgresServer

SLEEP_TASK = REPO / "tests" / "support" / "sleep_task.py"
WORKER_PODS, PER_GPU, BUDGET = 3, 2, 12
# The user's settings: a task file in the image's /tasks, 12 trials of 3 one-second epochs.
SETTINGS = {
    "SWEEPER_TASKS": "sleep_task.py",
    "SWEEPER_STUDIES": "sleep",
    "SWEEPER_TRIALS": str(BUDGET),
    "SWEEPER_LAUNCH_ARGS": "--epochs 3 --pruner none --sampler random --option seconds=1",
    "SWEEPER_PER_GPU": str(PER_GPU),
}


def _task_folder(root: Path, extra: str = "") -> Path:
    """A folder standing in for the image's /tasks (built FROM sweeper's with the task copied in)."""
    folder = root / "tasks"
    folder.mkdir(parents=True)
    shutil.copy(SLEEP_TASK, folder / "sleep_task.py")
    if extra:
        with open(folder / "sleep_task.py", "a") as f:
            f.write(extra)
    return folder


def _node(docs: list[Doc], pg_url: str, root: Path, tasks: Path) -> Node:
    # The Secret as `db_secret.py prod` makes it, with the URL of the test's PostgreSQL.
    return Node(docs, {"sweeper-db": {"url": pg_url}}, root, task_dirs={"/tasks": tasks})


def _running_in(study: optuna.Study, pids: set[int]) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if int(t.user_attrs.get("worker", ":0").rsplit(":", 1)[1]) in pids and t.intermediate_values]


def _threads_of(pid: int) -> int:
    """The --threads a worker process was started with (its supervisor's share of the CPU)."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return int(argv[argv.index("--threads") + 1])


def _connections_of(server: PostgresServer, pid: int) -> int:
    return int(server.sql(f"SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'sweeper:%:{pid}'"))


@pytest.mark.slow
def test_worker_pods_survive_a_sigterm_and_finish_exactly_the_budget(
        pg_url: str, postgres_server: PostgresServer, tmp_path: Path) -> None:
    docs = user_overlay(tmp_path / "overlay", SETTINGS, WORKER_PODS)
    node = _node(docs, pg_url, tmp_path / "node", _task_folder(tmp_path))
    job = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "sweeper-workers")
    grace = job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    try:
        # The launch Job, twice: idempotent.
        first = node.start("sweeper-launch", "sweeper-launch-a")
        assert first.wait(120) == 0, first.output()
        assert "study sleep created" in first.output()
        again = node.start("sweeper-launch", "sweeper-launch-b")
        assert again.wait(120) == 0 and "already launched" in again.output(), again.output()

        with ConnectionSampler(postgres_server) as connections:
            pods = [node.start("sweeper-workers", f"sweeper-workers-{i}") for i in range(WORKER_PODS)]
            victim = pods[0]
            study = optuna.load_study(study_name="sleep", storage=pg_url)
            wait_until(lambda: all(len(p.worker_pids()) == PER_GPU for p in pods)
                       and _running_in(study, victim.worker_pids()), 120, "a worker of the first pod to be mid-trial")
            # SWEEPER_THREADS is the pod's CPU limit (the downward API, as kubelet.py resolves it);
            # the supervisor divides it among its workers, which configure their backend with it.
            threads = [_threads_of(pid) for pod in pods for pid in pod.worker_pids()]
            held = [_connections_of(postgres_server, pod.process.pid) for pod in pods]
            sent = time.monotonic()
            victim.process.send_signal(signal.SIGTERM)  # what the kubelet does on eviction
            assert victim.wait(grace) == 143, victim.output()
            requeue_s = time.monotonic() - sent
            # The Job controller starts a replacement once the pod has failed (index 0 again).
            replacement = node.start("sweeper-workers", "sweeper-workers-0-replacement")
            codes = {pod.name: pod.wait(240) for pod in [*pods[1:], replacement]}
        assert set(codes.values()) == {0}, {p.name: p.output()[-2000:] for p in node.pods}
    finally:
        node.stop_all()

    # Exactly the budget, nothing left running or queued.
    trials = optuna.load_study(study_name="sleep", storage=pg_url).get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == BUDGET
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # The victim's trials failed with the signal and were finished by the other pods' workers.
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all("worker stopped by SIGTERM" in t.user_attrs["fail_reason"] for t in failed), failed
    victims = victim.worker_pids()
    assert all(int(t.user_attrs["worker"].rsplit(":", 1)[1]) in victims for t in failed)
    for lost in failed:
        (rerun,) = [t for t in finished if t.system_attrs.get("failed_trial") == lost.number]
        assert rerun.params == lost.params and rerun.user_attrs["seed"] == lost.user_attrs["seed"]
        assert int(rerun.user_attrs["worker"].rsplit(":", 1)[1]) not in victims
    assert victim.output().count("failed and re-queued") == len(failed)

    # The Job controller's view: the evicted pod is ignored (or, deleted by hand, counted once),
    # every index has succeeded, nothing failed the Job: it completes.
    spec = job["spec"]
    assert failed_pod_action(spec, {"worker": 143}, {"DisruptionTarget": "True"}) == "Ignore"
    assert failed_pod_action(spec, {"worker": 143}) == "Count"
    assert not after_counted_failures(spec, [0]).job_failed and spec["backoffLimitPerIndex"] >= 1
    assert spec["completions"] == WORKER_PODS and spec["completionMode"] == "Indexed"

    # The re-queue takes what the grace period allows for it, with a database outage's retries.
    assert requeue_s < REQUEUE_ALLOWANCE_S and REQUEUE_ALLOWANCE_S + RETRY_SECONDS < grace, requeue_s
    print(f"\nrehearsal: SIGTERM to exit 143 with {len(failed)} trial(s) re-queued: {requeue_s:.2f} s "
          f"(terminationGracePeriodSeconds {grace})")

    # Connections, what README's sizing rule counts: at most 2 per worker process, 2K per pod;
    # the supervisor's own 2 only while it checks the budgets, before its workers start.
    peaks = {int(app.rsplit(":", 1)[1]): n for app, n in connections.peak.items()}
    for pod in [*pods, replacement]:  # (the replacement may find the budgets met and start none)
        workers = [peaks.get(pid, 0) for pid in pod.worker_pids()]
        assert max(workers, default=0) <= 2 and sum(workers) <= 2 * PER_GPU, (pod.name, peaks)
        assert peaks.get(pod.process.pid, 0) <= 2, (pod.name, peaks)
    assert held == [0] * WORKER_PODS, "a supervisor holds connections while its workers run"
    print(f"rehearsal: peak connections per process {sorted(peaks.values())}")

    cpu = job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"]
    share = max(1, math.ceil(kubelet.quantity(cpu)) // PER_GPU)
    assert threads == [share] * (WORKER_PODS * PER_GPU), threads
    assert f"{PER_GPU} worker process(es) share SWEEPER_THREADS={math.ceil(kubelet.quantity(cpu))} CPU threads" in victim.output()
    print(f"rehearsal: CPU limit {cpu} per pod, {share} thread(s) per worker process")


@pytest.mark.slow
@pytest.mark.parametrize("setup", ["other-task-code", "never-launched"])
def test_a_worker_pod_with_a_setup_error_fails_the_job_at_once(
        setup: str, pg_url: str, tmp_path: Path) -> None:
    """Every worker of the pod ends with the same error: the supervisor passes the code on instead
    of restarting them, and the failure policy fails the Job instead of retrying the pod."""
    settings = {**SETTINGS, "SWEEPER_WAIT_FOR_STUDY": "3"}
    docs = user_overlay(tmp_path / "overlay", settings, 1)
    launched = _node(docs, pg_url, tmp_path / "launch", _task_folder(tmp_path / "launch"))
    # The worker pods' image carries other code than the launch pod's (or nothing was launched).
    node = _node(docs, pg_url, tmp_path / "node", _task_folder(tmp_path / "node", extra="# changed\n"))
    try:
        if setup == "other-task-code":
            launch = launched.start("sweeper-launch", "sweeper-launch")
            assert launch.wait(120) == 0, launch.output()
        pod = node.start("sweeper-workers", "sweeper-workers-0")
        code = pod.wait(120)
    finally:
        launched.stop_all()
        node.stop_all()
    expected, says = {
        "other-task-code": (ConfigError.exit_code, "differs from the code study sleep was launched with"),
        "never-launched": (NoStudyError.exit_code, "waiting for any study to be launched"),
    }[setup]
    assert code == expected and says in pod.output(), pod.output()
    assert pod.output().count("not restarting it") == PER_GPU
    job = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "sweeper-workers")
    assert failed_pod_action(job["spec"], {"worker": code}) == "FailJob"
