"""Which GPUs this host has and how worker processes are laid out on them: pure functions, so the
supervisor's plan is testable without a GPU.

A *slot* is one worker process. With ``--per-gpu K`` each GPU gets K slots (several small models
share a GPU well once no process takes all of its memory: ``sharing_env``); without GPUs every
slot is a CPU worker.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sweeper.errors import ConfigError

# `nvidia-smi -L` prints one line per device: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)".
_SMI_LINE = re.compile(r"^GPU (\d+):", re.MULTILINE)


@dataclass(frozen=True)
class Slot:
    index: int
    gpu: str | None  # the CUDA_VISIBLE_DEVICES value of this worker; None = CPU
    sharing: int = 1  # worker processes on this slot's GPU (--per-gpu), which size its memory share

    def describe(self) -> str:
        return f"GPU {self.gpu}" if self.gpu is not None else "CPU"


def parse_cuda_visible_devices(value: str) -> list[str]:
    """The devices listed in ``CUDA_VISIBLE_DEVICES``; CUDA stops at the first invalid entry, and
    ``-1`` (or an empty value) means "no GPU"."""
    devices = []
    for item in value.split(","):
        item = item.strip()
        if not item or item.startswith("-"):
            break
        devices.append(item)
    return devices


def parse_nvidia_smi(output: str) -> list[str]:
    return _SMI_LINE.findall(output)


def run_nvidia_smi() -> str | None:
    """``nvidia-smi -L`` output, or None where there is no driver (the command is missing or fails)."""
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def detect_gpus(
    environ: Mapping[str, str] | None = None, smi: Callable[[], str | None] = run_nvidia_smi
) -> list[str]:
    """GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` when set (the container runtime or the
    user already chose), otherwise every device ``nvidia-smi -L`` lists."""
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        return parse_cuda_visible_devices(environ["CUDA_VISIBLE_DEVICES"])
    output = smi()
    return parse_nvidia_smi(output) if output else []


def select_gpus(spec: str, detect: Callable[[], list[str]] = detect_gpus) -> list[str]:
    """``--gpus``: ``all`` (detected), ``none``, or a comma-separated list of device ids/UUIDs,
    taken as given (like ``CUDA_VISIBLE_DEVICES``)."""
    spec = spec.strip()
    if spec == "all":
        return detect()
    if spec == "none":
        return []
    devices = [d.strip() for d in spec.split(",")]
    if not all(devices) or len(set(devices)) != len(devices):
        raise ConfigError(
            f"--gpus {spec!r} is not all, none or a list of distinct device ids: write e.g. --gpus 0,1"
        )
    return devices


def plan_slots(gpus: Sequence[str], per_gpu: int, cpu_workers: int) -> list[Slot]:
    """``per_gpu`` slots on each GPU, in GPU order (0, 0, 1, 1, ...); ``cpu_workers`` CPU slots
    when there is no GPU."""
    if per_gpu < 1:
        raise ConfigError(f"--per-gpu must be at least 1, got {per_gpu}")
    if cpu_workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {cpu_workers}")
    if not gpus:
        return [Slot(i, None) for i in range(cpu_workers)]
    return [Slot(i, gpu, per_gpu) for i, gpu in enumerate(g for g in gpus for _ in range(per_gpu))]


def slot_seed(base: int, index: int, start: int) -> int:
    """Sampler seed of the ``start``-th process of slot ``index``: distinct per process, so parallel
    TPE samplers (and a restarted worker) don't propose the same points."""
    return (base + 7_919 * index + 104_729 * start) % (2**31 - 1)


# -- how worker processes share one GPU's memory ---------------------------------------------------
# Of a GPU shared by K JAX processes, the part their allocators may take together; the rest is for
# what JAX's allocator does not count: each process's CUDA context and the cuDNN/cuBLAS workspaces.
JAX_SHARED_MEMORY = 0.9
# JAX reads the share under either name (XLA_CLIENT_MEM_FRACTION is the newer one) and refuses both
# at once; every jaxlib since 0.4.1 reads the older name, so that is the one set here.
JAX_FRACTION_VARS = ("XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_CLIENT_MEM_FRACTION")


def jax_share(processes: int) -> str:
    """Each of ``processes`` JAX processes' cap, as a fraction of the GPU's memory (rounded down, so
    the caps never add up to more than ``JAX_SHARED_MEMORY``)."""
    return f"{math.floor(JAX_SHARED_MEMORY / processes * 10_000) / 10_000:g}"


def jax_sharing_env(processes: int, environ: Mapping[str, str]) -> dict[str, str]:
    """JAX's allocator settings for ``processes`` JAX processes on one GPU.

    By default a JAX process preallocates 75% of the GPU at its first operation, so a second one on
    the same GPU fails. With more than one, each allocates on demand
    (``XLA_PYTHON_CLIENT_PREALLOCATE=false``) up to an equal share (``jax_share``): on demand
    because these models need a few hundred MiB, while K preallocated shares plus K CUDA contexts
    overflow a smaller GPU at large K; capped so that one process cannot starve the others. A
    process alone on its GPU keeps JAX's own defaults, chosen for a process that owns its GPU.
    Settings already in ``environ`` are the user's and are kept (a fraction under either name
    means none is added)."""
    env: dict[str, str] = {}
    if processes > 1:
        if not environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"):
            env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        if not any(environ.get(name) for name in JAX_FRACTION_VARS):
            env[JAX_FRACTION_VARS[0]] = jax_share(processes)
    return env


def sharing_env(slot: Slot, environ: Mapping[str, str]) -> dict[str, str]:
    """What a GPU slot's process needs beside its GPU so that ``slot.sharing`` processes fit on that
    GPU, for every framework that may run in it: the supervisor cannot know which (Keras on JAX
    still loads TensorFlow for its text layers and tf.data, and a task's own ``train`` may use
    either), and each framework reads only its own variables. TensorFlow maps nearly all of a
    GPU's memory at start-up, so memory growth (also set by ``sweeper.worker.backend``); JAX, see
    ``jax_sharing_env``. A CPU slot needs none of it: its GPUs are hidden."""
    if slot.gpu is None:
        return {}
    return {"TF_FORCE_GPU_ALLOW_GROWTH": "true", **jax_sharing_env(slot.sharing, environ)}
