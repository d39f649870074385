"""Process set-up of the Keras backend: the warning when a process given a GPU trains on the CPU,
as a pure function and in a real JAX process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper.worker.backend import default_threads, missing_gpu_warning

REPO = Path(__file__).resolve().parents[2]
# A GPU id that no machine has: every framework sees no GPU under it, on a GPU machine too.
NO_SUCH_GPU = "GPU-00000000-0000-0000-0000-000000000000"


def test_warns_when_given_a_gpu_that_the_backend_does_not_see() -> None:
    line = missing_gpu_warning("0", "jax", 0)
    assert line is not None and "CUDA_VISIBLE_DEVICES=0" in line and "'.[gpu-jax]'" in line
    tf_line = missing_gpu_warning("1", "tensorflow", 0)
    assert tf_line is not None and "'.[gpu]'" in tf_line


@pytest.mark.parametrize("visible, seen", [(None, 0), ("-1", 0), ("", 0), ("0", 1), ("0", None)])
def test_no_warning_without_a_gpu_asked_for_or_with_one_seen(visible: str | None, seen: int | None) -> None:
    assert missing_gpu_warning(visible, "jax", seen) is None


@pytest.mark.slow
@pytest.mark.parametrize("visible, warned", [(NO_SUCH_GPU, True), ("-1", False)])
def test_a_jax_worker_process_says_when_it_trains_on_the_cpu(visible: str, warned: bool) -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": visible, "PYTHONPATH": str(REPO)}
    env.pop("JAX_PLATFORMS", None)
    done = subprocess.run([sys.executable, "-c", "from sweeper.worker.backend import configure; print(configure(1))"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "jax"
    assert ("Keras' jax backend sees no GPU" in done.stderr) is warned, done.stderr[-2000:]


@pytest.mark.parametrize(("workers", "cores", "each"), [(4, 16, 4), (8, 12, 1), (8, 4, 1), (3, 8, 2)])
def test_worker_processes_divide_the_cores_they_are_given(workers: int, cores: int, each: int) -> None:
    """SWEEPER_THREADS (a pod's CPU limit) divided among the processes, at least one each."""
    assert default_threads(workers, cores) == each


def test_without_a_core_count_the_machines_cores_are_divided() -> None:
    assert default_threads(1) == default_threads(1, None) == (os.cpu_count() or 1)


@pytest.mark.slow
def test_a_tensorflow_worker_process_takes_the_threads_it_is_given() -> None:
    """configure(threads), as every worker process calls it, sets TensorFlow's pools and OpenMP's."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(REPO)}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(name, None)
    code = ("import os; from sweeper.worker.backend import configure; configure(3); import tensorflow as tf; "
            "print(tf.config.threading.get_intra_op_parallelism_threads(), "
            "tf.config.threading.get_inter_op_parallelism_threads(), os.environ['OMP_NUM_THREADS'])")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["3", "2", "3"]
