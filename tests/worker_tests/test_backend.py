"""Process set-up of the Keras backend: the warning when a process given a GPU trains on the CPU,
as a pure function and in a real JAX process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper.worker.backend import missing_gpu_warning

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
