"""Which GPUs this host has and how worker processes are laid out on them: pure functions, so the
supervisor's plan is testable without a GPU.

A *slot* is one worker process. With ``--per-gpu K`` each GPU gets K slots (several small models
share a GPU well thanks to TensorFlow memory growth, see ``sweeper.backend``); without GPUs every
slot is a CPU worker.
"""

from __future__ import annotations

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
    return [Slot(i, gpu) for i, gpu in enumerate(g for g in gpus for _ in range(per_gpu))]


def slot_seed(base: int, index: int, start: int) -> int:
    """Sampler seed of the ``start``-th process of slot ``index``: distinct per process, so parallel
    TPE samplers (and a restarted worker) don't propose the same points."""
    return (base + 7_919 * index + 104_729 * start) % (2**31 - 1)
