"""The GPU supervisor: real child processes throughout. The process loop is exercised with small
child scripts (fast, and they can crash on demand); the CLI path runs real workers on a real
PostgreSQL study, with a ``sitecustomize`` on PYTHONPATH that records each worker's environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.cli import main
from sweeper.errors import WorkerError
from sweeper.worker.gpus import Slot, plan_slots
from sweeper.settings import Settings
from sweeper.worker.children import local_workers_env
from sweeper.worker.supervisor import RestartPolicy, budgets_met, slot_env, supervise

FAST = RestartPolicy(startup_window=30.0, max_startup_crashes=3, backoff=0.05, max_backoff=0.2)

# A child that records who it is, then does what its mode says.
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    records, mode, slot, seed = sys.argv[1:5]
    def note(**kw):
        with open(records, "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "slot": int(slot), **kw}) + "\\n")
    stopping = []
    def on_term(signum, frame):
        note(event="signal", signum=signum)
        if mode != "linger":
            sys.exit(128 + signum)
        stopping.append(signum)  # like a worker re-queueing its trial: still busy for a moment
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    note(event="start", cuda=os.environ.get("CUDA_VISIBLE_DEVICES"), seed=int(seed),
         env={k: os.environ.get(k) for k in ("KERAS_BACKEND", "TF_FORCE_GPU_ALLOW_GROWTH",
                                             "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION")})
    if mode == "done":
        sys.exit(0)
    if mode == "crash":
        sys.exit(3)
    while True:
        time.sleep(0.05)
        if stopping:
            time.sleep(1.0)
            sys.exit(128 + stopping[0])
    """
)


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _command(tmp_path: Path, mode: Callable[[Slot], str]) -> tuple[Callable[[Slot, int], list[str]], Path]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    records = tmp_path / "records.jsonl"

    def command(slot: Slot, seed: int) -> list[str]:
        return [sys.executable, str(script), str(records), mode(slot), str(slot.index), str(seed)]

    return command, records


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_per_gpu_gives_four_children_on_0_0_1_1(tmp_path: Path) -> None:
    command, records = _command(tmp_path, lambda slot: "done")
    code = supervise(plan_slots(["0", "1"], per_gpu=2, cpu_workers=1), command, policy=FAST, log=lambda m: None)
    assert code == 0
    starts = sorted((r for r in _records(records) if r["event"] == "start"), key=lambda r: r["slot"])
    # Exit 0 means "budgets met": each child ran exactly once.
    assert [r["slot"] for r in starts] == [0, 1, 2, 3]
    assert [r["cuda"] for r in starts] == ["0", "0", "1", "1"]
    assert len({r["seed"] for r in starts}) == 4


def test_cpu_slots_hide_gpus(tmp_path: Path) -> None:
    command, records = _command(tmp_path, lambda slot: "done")
    assert supervise(plan_slots([], per_gpu=1, cpu_workers=2), command, policy=FAST, log=lambda m: None) == 0
    assert [r["cuda"] for r in _records(records)] == ["-1", "-1"]


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_children_sharing_a_gpu_get_its_memory_settings_under_either_backend(tmp_path: Path, backend: str) -> None:
    """Real child processes: 2 per GPU, each with its GPU, TensorFlow's memory growth and a JAX
    share allocated on demand (JAX would otherwise preallocate 75% and stop the second child)."""
    command, records = _command(tmp_path, lambda slot: "done")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "TF_FORCE"))}
    code = supervise(plan_slots(["0", "1"], per_gpu=2, cpu_workers=1), command,
                     env={**env, "KERAS_BACKEND": backend}, policy=FAST, log=lambda m: None)
    assert code == 0
    starts = sorted(_records(records), key=lambda r: r["slot"])
    assert [r["cuda"] for r in starts] == ["0", "0", "1", "1"]
    for record in starts:
        assert record["env"] == {"KERAS_BACKEND": backend, "TF_FORCE_GPU_ALLOW_GROWTH": "true",
                                 "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.45"}


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_slot_env_per_backend(backend: str) -> None:
    base = {"KERAS_BACKEND": backend, "PATH": "/usr/bin"}
    shared = slot_env(base, plan_slots(["3"], per_gpu=8, cpu_workers=1)[5])
    assert shared == {**base, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "3",
                      "TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                      "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.1125"}
    # Alone on its GPU: JAX keeps its defaults; a CPU slot sees no GPU and needs no memory settings.
    alone = slot_env(base, plan_slots(["3"], per_gpu=1, cpu_workers=1)[0])
    assert alone["CUDA_VISIBLE_DEVICES"] == "3" and alone["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert not any(k.startswith("XLA_") for k in alone)
    cpu = slot_env(base, plan_slots([], per_gpu=8, cpu_workers=2)[1])
    assert cpu["CUDA_VISIBLE_DEVICES"] == "-1"
    assert not any(k.startswith(("XLA_", "TF_FORCE")) for k in cpu)


def test_slot_env_keeps_the_users_jax_memory_settings() -> None:
    base = {"KERAS_BACKEND": "jax", "XLA_PYTHON_CLIENT_PREALLOCATE": "true", "XLA_CLIENT_MEM_FRACTION": "0.2"}
    env = slot_env(base, plan_slots(["0"], per_gpu=2, cpu_workers=1)[0])
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true" and env["XLA_CLIENT_MEM_FRACTION"] == "0.2"
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION" not in env  # JAX refuses both names at once


def test_unsupervised_local_workers_share_the_first_gpu_under_jax() -> None:
    """`sweeper run --workers 2` and `sweeper worker --workers 2` start processes that all see
    every GPU and compute on the first: the same JAX share as two slots of one GPU."""
    env = local_workers_env({"KERAS_BACKEND": "jax"}, 2)
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" and env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.45"
    assert not any(k.startswith("XLA_") for k in local_workers_env({"KERAS_BACKEND": "jax"}, 1))


def test_killed_child_is_restarted_and_sigterm_reaches_every_child(tmp_path: Path) -> None:
    command, records = _command(tmp_path, lambda slot: "run")
    messages: list[str] = []
    seen: dict[str, object] = {}

    def driver() -> None:
        starts = lambda: [r for r in _records(records) if r["event"] == "start"]  # noqa: E731
        _wait_for(lambda: len(starts()) == 2)
        victim = next(r for r in starts() if r["slot"] == 0)
        os.kill(victim["pid"], signal.SIGKILL)
        _wait_for(lambda: len(starts()) == 3)
        seen["restart"] = starts()[-1]
        seen["victim"] = victim
        os.kill(os.getpid(), signal.SIGTERM)  # as `docker stop` does to the supervisor

    thread = threading.Thread(target=driver, daemon=True)
    thread.start()
    code = supervise(plan_slots(["0", "1"], 1, 1), command, policy=FAST, log=messages.append)
    thread.join(5)
    assert code == 128 + signal.SIGTERM
    restart, victim = seen["restart"], seen["victim"]
    assert isinstance(restart, dict) and isinstance(victim, dict)
    assert restart["slot"] == 0 and restart["cuda"] == "0" and restart["pid"] != victim["pid"]
    assert restart["seed"] != victim["seed"]
    assert any("worker 0 (GPU 0) exited with code -9" in m and "restarting" in m for m in messages)
    # Both live children got the SIGTERM and are gone; nothing was restarted after it.
    live = {r["pid"] for r in _records(records) if r["event"] == "start"} - {victim["pid"]}
    signalled = {r["pid"] for r in _records(records) if r["event"] == "signal"}
    assert signalled == live and len(live) == 2
    assert not any(_alive(pid) for pid in live)


HARNESS = textwrap.dedent(
    """
    import sys
    from sweeper.worker.gpus import plan_slots
    from sweeper.worker.supervisor import RestartPolicy, supervise
    records, script = sys.argv[1:3]
    command = lambda slot, seed: [sys.executable, script, records, "linger", str(slot.index), str(seed)]
    sys.exit(supervise(plan_slots(["0", "1"], 1, 1), command, policy=RestartPolicy(backoff=0.05)))
    """
)


def test_ctrl_c_in_a_terminal_stops_every_child(tmp_path: Path) -> None:
    """A terminal sends SIGINT to its whole foreground process group; each child must get it once
    (from the supervisor), not a second time while it is still re-queueing its trial."""
    command, records = _command(tmp_path, lambda slot: "linger")
    command(Slot(0, None), 0)  # writes child.py
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS)
    proc = subprocess.Popen([sys.executable, str(harness), str(records), str(tmp_path / "child.py")],
                            start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: len(_records(records)) == 2)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGINT, err
    signals = [r for r in _records(records) if r["event"] == "signal"]
    assert sorted(r["slot"] for r in signals) == [0, 1]
    assert all(r["signum"] == signal.SIGINT for r in signals)


def test_crash_loop_at_start_up_is_given_up(tmp_path: Path) -> None:
    command, records = _command(tmp_path, lambda slot: "crash" if slot.gpu == "1" else "done")
    messages: list[str] = []
    with pytest.raises(WorkerError, match=r"gave up on worker 1 \(GPU 1\): each died within 30 s of starting 3 times"):
        supervise(plan_slots(["0", "1"], 1, 1), command, policy=FAST, log=messages.append)
    starts = [r["slot"] for r in _records(records) if r["event"] == "start"]
    assert starts.count(1) == 3 and starts.count(0) == 1
    assert sum("restarting in" in m for m in messages) == 2
    assert any("giving up on it" in m for m in messages)


@pytest.mark.parametrize("code", [2, 5], ids=["bad-settings", "no-study"])
def test_a_setup_error_is_not_restarted_and_becomes_the_supervisors_exit_code(tmp_path: Path, code: int) -> None:
    """2 and 5 end every child alike: restarting cannot help (a child that waited for a study in
    vain would wait again for ever), and a Kubernetes podFailurePolicy acts on the code."""
    starts = tmp_path / "starts"

    def command(slot: Slot, seed: int) -> list[str]:
        return [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('{slot.index}\\n'); raise SystemExit({code})"]

    messages: list[str] = []
    assert supervise(plan_slots(["0"], 2, 1), command, policy=FAST, log=messages.append) == code
    assert sorted(starts.read_text().split()) == ["0", "1"]  # each started once
    assert sum("not restarting it" in m for m in messages) == 2
    assert not any("restarting in" in m for m in messages)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RestartPolicy(backoff=2.0, max_backoff=10.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]


# -- the CLI with real workers on PostgreSQL ------------------------------------------------------
RECORDER = textwrap.dedent(
    """
    # Test-only: appends each `sweeper worker --index` process's GPU setting to a file.
    import json, os
    _cmd = open("/proc/self/cmdline", "rb").read().split(b"\\0")
    if b"--index" in _cmd:
        with open(os.environ["RECORD_FILE"], "a") as _f:
            _f.write(json.dumps({"pid": os.getpid(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                 "jax_share": os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION"),
                                 "argv": [a.decode() for a in _cmd if a]}) + "\\n")
    """
)


def _worker_env(tmp_path: Path, pg_url: str, mirror: Path) -> tuple[dict[str, str], Path]:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(RECORDER)
    record = tmp_path / "workers.jsonl"
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook), str(repo)]),
        "RECORD_FILE": str(record),
        "SWEEPER_STORAGE": pg_url,
        "SWEEPER_DATA_MIRROR": str(mirror),
        "KERAS_BACKEND": "tensorflow",
    }
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env, record


def _launch(pg_url: str, mirror: Path, trials: int, epochs: int) -> None:
    assert main(["launch", "cifar10", "--trials", str(trials), "--epochs", str(epochs), "--train-size", "100",
                 "--batch-size", "32", "--storage", pg_url, "--data-mirror", str(mirror)]) == 0


@pytest.mark.slow
def test_cli_runs_real_workers_on_gpu_slots_until_budget(tmp_path: Path, pg_url: str, cifar_mirror: Path) -> None:
    _launch(pg_url, cifar_mirror, trials=4, epochs=1)
    env, record = _worker_env(tmp_path, pg_url, cifar_mirror)
    done = subprocess.run(
        [sys.executable, "-m", "sweeper", "worker", "--gpus", "0,1", "--per-gpu", "2", "--threads", "1"],
        env=env, capture_output=True, text=True, timeout=420,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    workers = _records(record)
    assert sorted(w["cuda"] for w in workers) == ["0", "0", "1", "1"]
    assert [w["jax_share"] for w in workers] == ["0.45"] * 4
    seeds = {int(w["argv"][w["argv"].index("--sampler-seed") + 1]) for w in workers}
    assert len(seeds) == 4
    study = optuna.load_study(study_name="cifar10", storage=pg_url)
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4
    # Each trial records the seed of the process that ran it: one of the supervisor's seeds.
    assert {t.user_attrs["sampler_seed"] for t in finished} <= seeds
    assert "sampler seed" in done.stderr
    # Started again (as `restart: unless-stopped` does), it exits at once without any worker.
    again = subprocess.run([sys.executable, "-m", "sweeper", "worker", "--gpus", "0,1"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "all budgets met; nothing to do" in again.stderr
    assert len(_records(record)) == 4


def test_budgets_met_needs_launched_studies_with_budgets_met(pg_url: str, cifar_mirror: Path) -> None:
    settings = Settings.resolve({"storage": pg_url})
    assert not budgets_met(settings, [])  # no tables yet
    _launch(pg_url, cifar_mirror, trials=1, epochs=1)
    assert not budgets_met(settings, [])
    assert not budgets_met(settings, ["cifar10", "imdb"])
    study = optuna.load_study(study_name="cifar10", storage=pg_url)
    trial = study.ask()
    study.tell(trial, 0.5)
    assert budgets_met(settings, []) and budgets_met(settings, ["cifar10"])
    assert not budgets_met(settings, ["cifar10", "imdb"])  # imdb not launched


@pytest.mark.slow
def test_cli_sigterm_fails_and_requeues_running_trials(tmp_path: Path, pg_url: str, cifar_mirror: Path) -> None:
    _launch(pg_url, cifar_mirror, trials=50, epochs=200)
    env, record = _worker_env(tmp_path, pg_url, cifar_mirror)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "worker", "--gpus", "0,1", "--threads", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        study = optuna.load_study(study_name="cifar10", storage=pg_url)

        def both_running() -> bool:
            return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))) == 2

        _wait_for(both_running, timeout=300)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out[-3000:]
    assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)), out[-4000:]
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    assert len(failed) == 2 and all("worker stopped by SIGTERM" in t.user_attrs["fail_reason"] for t in failed)
    # Both failed trials are queued again with their parameters.
    waiting = [t for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
               if "failed_trial" in t.system_attrs]  # beside the type starts a search queues at launch
    assert sorted(str(t.params) for t in waiting) == sorted(str(t.params) for t in failed)
    assert not any(_alive(w["pid"]) for w in _records(record))
    assert out.count("failed and re-queued") == 2
