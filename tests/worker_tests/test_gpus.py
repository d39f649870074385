"""GPU detection and slot planning: pure functions, plus detection through a real `nvidia-smi`
executable on PATH (a stand-in script printing the driver's `-L` format), and the installed
jaxlib reading the memory settings a shared GPU slot gets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sweeper.errors import ConfigError
from sweeper.worker.gpus import (
    JAX_FRACTION_VARS,
    JAX_SHARED_MEMORY,
    Slot,
    detect_gpus,
    jax_share,
    jax_sharing_env,
    parse_cuda_visible_devices,
    parse_nvidia_smi,
    plan_slots,
    run_nvidia_smi,
    select_gpus,
    sharing_env,
    slot_seed,
)

SMI_OUTPUT = (
    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1b0c2f3a-0000-0000-0000-000000000000)\n"
    "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-1b0c2f3a-1111-1111-1111-111111111111)\n"
)


def test_plan_two_per_gpu_is_gpu_major() -> None:
    slots = plan_slots(["0", "1"], per_gpu=2, cpu_workers=1)
    assert [s.gpu for s in slots] == ["0", "0", "1", "1"]
    assert [s.index for s in slots] == [0, 1, 2, 3]
    assert [s.sharing for s in slots] == [2, 2, 2, 2]


def test_plan_without_gpu_gives_cpu_workers() -> None:
    slots = plan_slots([], per_gpu=2, cpu_workers=3)
    assert slots == [Slot(0, None), Slot(1, None), Slot(2, None)]
    assert slots[0].describe() == "CPU"


@pytest.mark.parametrize("per_gpu, workers", [(0, 1), (1, 0)])
def test_plan_rejects_non_positive_counts(per_gpu: int, workers: int) -> None:
    with pytest.raises(ConfigError, match="must be at least 1"):
        plan_slots(["0"], per_gpu=per_gpu, cpu_workers=workers)


def test_cuda_visible_devices_follows_cuda_rules() -> None:
    assert parse_cuda_visible_devices("0,1") == ["0", "1"]
    assert parse_cuda_visible_devices(" 2 , 3 ") == ["2", "3"]
    assert parse_cuda_visible_devices("GPU-abc,GPU-def") == ["GPU-abc", "GPU-def"]
    assert parse_cuda_visible_devices("") == []
    assert parse_cuda_visible_devices("-1") == []
    assert parse_cuda_visible_devices("0,-1,1") == ["0"]  # CUDA ignores everything after an invalid id


def test_nvidia_smi_listing_is_parsed() -> None:
    assert parse_nvidia_smi(SMI_OUTPUT) == ["0", "1"]
    assert parse_nvidia_smi("No devices were found\n") == []


def test_cuda_visible_devices_wins_over_nvidia_smi() -> None:
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "1"}, smi=lambda: SMI_OUTPUT) == ["1"]
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": ""}, smi=lambda: SMI_OUTPUT) == []
    assert detect_gpus({}, smi=lambda: SMI_OUTPUT) == ["0", "1"]
    assert detect_gpus({}, smi=lambda: None) == []


def _fake_smi(folder: Path, body: str) -> None:
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_real_nvidia_smi_process_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listing = tmp_path / "listing.txt"
    listing.write_text(SMI_OUTPUT)
    _fake_smi(tmp_path, f'[ "$1" = -L ] || exit 2\ncat {listing}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert detect_gpus() == ["0", "1"]


def test_failing_or_missing_nvidia_smi_means_no_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_smi(tmp_path, "echo 'NVIDIA-SMI has failed because it could not communicate with the driver' >&2; exit 9")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert run_nvidia_smi() is None
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert run_nvidia_smi() is None


def test_select_gpus_specs() -> None:
    assert select_gpus("all", detect=lambda: ["0", "1", "2"]) == ["0", "1", "2"]
    assert select_gpus("none", detect=lambda: ["0"]) == []
    assert select_gpus("0,1", detect=lambda: []) == ["0", "1"]  # taken as given
    for bad in ("0,,1", "0,0", ""):
        with pytest.raises(ConfigError, match="--gpus"):
            select_gpus(bad)


def test_slot_seeds_are_distinct_per_process() -> None:
    seeds = {slot_seed(12345, index, start) for index in range(16) for start in range(50)}
    assert len(seeds) == 16 * 50


# -- sharing a GPU's memory ---------------------------------------------------------------------
@pytest.mark.parametrize("processes, share", [(2, "0.45"), (3, "0.3"), (4, "0.225"), (7, "0.1285"), (8, "0.1125")])
def test_jax_share_divides_the_shared_memory_rounding_down(processes: int, share: str) -> None:
    assert jax_share(processes) == share
    assert float(share) * processes <= JAX_SHARED_MEMORY


def test_shared_gpu_slot_gets_tensorflow_growth_and_a_jax_share_allocated_on_demand() -> None:
    slot = plan_slots(["0"], per_gpu=4, cpu_workers=1)[0]
    assert sharing_env(slot, {}) == {
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.225",
    }


def test_gpu_owned_by_one_process_keeps_jax_defaults() -> None:
    slot = plan_slots(["0", "1"], per_gpu=1, cpu_workers=1)[1]
    assert sharing_env(slot, {}) == {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    assert jax_sharing_env(1, {}) == {}


def test_cpu_slot_needs_no_gpu_memory_settings() -> None:
    assert sharing_env(plan_slots([], per_gpu=4, cpu_workers=2)[0], {}) == {}


@pytest.mark.parametrize("name", ["XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_CLIENT_MEM_FRACTION"])
def test_users_jax_fraction_under_either_name_is_kept(name: str) -> None:
    # JAX refuses both names at once, so adding ours beside the user's would stop every worker.
    assert jax_sharing_env(2, {name: "0.3"}) == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    assert jax_sharing_env(2, {"XLA_PYTHON_CLIENT_PREALLOCATE": "true"}) == {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.45"}


def _jax_gpu_options(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict:
    """The options JAX's CUDA plugin is created with, as the installed jaxlib reads them from the
    environment (the same call the plugin makes; it needs no GPU)."""
    from jaxlib import xla_client

    for name in ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_ALLOCATOR", *JAX_FRACTION_VARS):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return dict(xla_client.generate_pjrt_gpu_plugin_options())


def test_installed_jaxlib_reads_the_shared_slot_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    options = _jax_gpu_options(monkeypatch, jax_sharing_env(8, {}))
    assert options["preallocate"] is False
    assert options["memory_fraction"] == pytest.approx(0.1125)
    # Alone on a GPU: nothing set, JAX's own defaults apply.
    assert "memory_fraction" not in _jax_gpu_options(monkeypatch, jax_sharing_env(1, {}))


def test_installed_jaxlib_accepts_our_settings_beside_the_users_newer_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    user = {"XLA_CLIENT_MEM_FRACTION": "0.2"}
    options = _jax_gpu_options(monkeypatch, {**user, **jax_sharing_env(2, user)})
    assert options["memory_fraction"] == pytest.approx(0.2)
    assert options["preallocate"] is False
