"""TensorFlow's C++ start-up lines are dropped from a worker's output, and only those."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeper.cli.quiet import is_noise
from tests.support import procs

SEEN_ON_THIS_MACHINE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795778802.937015    6208 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. "
    "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1795779014.942553   10499 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
]
KEPT = [
    "E0000 00:00:1795779014.942553   10499 cuda_executor.cc:1] failed call to cuInit: UNKNOWN ERROR",
    "[worker 0] cifar10 trial 3 complete penalty=l2 lambda=1e-04 dropout=0.20 val_accuracy=0.5 epochs=1 time=1.0s",
    "sweeper: error: cifar-10-python.tar.gz is corrupt",
    "WARNING: something else",
]


@pytest.mark.parametrize("line", SEEN_ON_THIS_MACHINE)
def test_start_up_lines_are_noise(line: str) -> None:
    assert is_noise(line + "\n")


@pytest.mark.parametrize("line", KEPT)
def test_everything_else_passes(line: str) -> None:
    assert not is_noise(line + "\n")


@pytest.mark.slow
@pytest.mark.parametrize("debug", [False, True])
def test_a_worker_s_output_is_quiet_unless_debugging(tmp_path: Path, debug: bool) -> None:
    env = procs.sweeper_env(f"sqlite:///{tmp_path / 's.db'}", **({"SWEEPER_DEBUG": "1"} if debug else {}))
    env.pop("TF_CPP_MIN_LOG_LEVEL")
    assert procs.run(["launch", "tests.support.quick_task", "--trials", "1", "--epochs", "1"], env).returncode == 0
    worker = procs.run(["worker"], env, timeout=300)
    output = worker.stdout + worker.stderr
    assert worker.returncode == 0, output
    assert "quick trial 0 complete" in output
    noisy = [line for line in output.splitlines() if is_noise(line)]
    assert (len(noisy) > 0) == debug, noisy
