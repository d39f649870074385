"""bench/bench_gpu.py's arithmetic (pure) and its tower-against-solo check, with real Keras models
on the CPU: a fused cohort's towers train like their solo runs, and the check fails for a tower
that trained another configuration."""

from __future__ import annotations

import os
import stat
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import gpu_cohort  # noqa: E402
from bench_gpu import GpuSampler  # noqa: E402
from gpu_measure import (  # noqa: E402
    GpuSample,
    Row,
    TrialSpan,
    gpu_use,
    parse_gpu_sample,
    per_hour,
    saturation_k,
    table,
    trials_in_window,
    typical_trial_seconds,
    verdict,
)

T0 = datetime(2026, 1, 1, 12, 0, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_trials_in_window_counts_the_part_of_each_trial_inside_it() -> None:
    spans = [
        TrialSpan(at(0), at(10), True),  # before the window: nothing
        TrialSpan(at(10), at(20), True),  # fully inside: 1
        TrialSpan(at(25), at(35), True),  # half inside: 0.5
        TrialSpan(at(28), at(30), False),  # cut off at the stop: 2 s of a typical 10 s trial
    ]
    assert typical_trial_seconds(spans) == 10.0
    assert trials_in_window(spans, at(10), at(30), 10.0) == pytest.approx(1.7)
    assert per_hour(1.7, 20.0) == pytest.approx(306.0)


def test_gpu_samples_are_parsed_and_summarised_over_a_window() -> None:
    assert parse_gpu_sample("37, 1203\n", 5.0) == GpuSample(5.0, 37.0, 1203.0)
    assert parse_gpu_sample("[N/A], 1203", 5.0) is None
    assert parse_gpu_sample("", 5.0) is None
    samples = [GpuSample(t, u, m) for t, u, m in [(1, 90, 5000), (2, 40, 700), (3, 60, 900), (4, 100, 100)]]
    use = gpu_use(samples, 2, 3)
    assert use is not None and use.utilization == 50 and use.peak_memory_mib == 900 and use.samples == 2
    assert gpu_use(samples, 10, 20) is None


FAKE_SMI = """#!/bin/sh
# Stand-in for nvidia-smi: a sample every 50 ms for --query-gpu ... -lms, two processes for
# --query-compute-apps; records its arguments.
echo "$@" >> "$(dirname "$0")/calls"
case "$1" in
  --query-gpu=*) while true; do echo "40, 1000"; echo "80, 3000"; sleep 0.05; done ;;
  --query-compute-apps=*) printf '1234\\n5678\\n' ;;
esac
"""


def test_gpu_sampler_reads_a_real_nvidia_smi_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text(FAKE_SMI)
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    sampler = GpuSampler("0")
    try:
        start = time.time()
        time.sleep(0.6)
        use = sampler.use(start, time.time())
        assert use is not None and use.utilization == pytest.approx(60) and use.peak_memory_mib == 3000
        assert sampler.processes() == 2
    finally:
        sampler.close()
    assert sampler.process is not None and sampler.process.poll() is not None
    calls = (tmp_path / "calls").read_text()
    assert "-i 0 -lms 250" in calls and "--query-compute-apps=pid --format=csv,noheader -i 0" in calls
    assert GpuSampler(None).use(0, time.time()) is None  # no GPU: n/a


def _rows(per_gpu: dict[int, float], cohort: dict[int, float]) -> list[Row]:
    return ([Row("cifar10", "per-gpu", k, v) for k, v in per_gpu.items()]
            + [Row("cifar10", "cohort", k, v) for k, v in cohort.items()])


def test_verdict_holds_the_best_row_against_one_process_per_gpu() -> None:
    rows = _rows({1: 100, 2: 190, 4: 350, 8: 360}, {2: 180, 4: 340, 8: 600, 16: 640})
    v = verdict(rows, "cifar10")
    assert v.best is not None and (v.best.mode, v.best.k) == ("cohort", 16)
    assert v.speedup == pytest.approx(6.4) and v.met
    assert v.saturation["per-gpu"].startswith("K = 4 ")  # 8 adds 3%
    assert v.saturation["cohort"].startswith("K = 8 ")  # 16 adds 7%
    short = verdict(_rows({1: 100, 2: 150}, {2: 390}), "cifar10")
    assert not short.met and short.speedup == pytest.approx(3.9)
    assert saturation_k(_rows({1: 100, 2: 150}, {})) == "not saturated by K = 2"
    assert not verdict(_rows({2: 150}, {2: 390}), "cifar10").met  # no baseline: nothing to hold against


def test_table_shows_factors_and_what_was_not_measured() -> None:
    lines = table(_rows({1: 100, 2: 250}, {}) + [Row("cifar10", "cohort", 16, None, note="skipped: time limit")])
    assert lines[2].startswith("| cifar10 | per-gpu | 1 | 100 | 1.00 | n/a |")
    assert "| 250 | 2.50 |" in lines[3]
    assert lines[4].startswith("| cifar10 | cohort | 16 | n/a | n/a |") and "skipped: time limit" in lines[4]


def test_check_tolerance_passes_equal_runs_and_fails_a_seed_apart() -> None:
    rng = np.random.default_rng(0)

    def run(seed: int) -> gpu_cohort.RunResult:
        p = np.random.default_rng(seed).dirichlet(np.ones(10), 200)
        return gpu_cohort.RunResult(float((p.argmax(1) == rng.integers(0, 10, 200)).mean()), p)

    solos = [run(s) for s in (1, 2, 3)]
    twins = [run(s + 100) for s in (1, 2, 3)]
    tol = gpu_cohort.tolerances(solos, twins, n_val=200)
    assert tol.accuracy >= 1 / 200
    assert gpu_cohort.within(gpu_cohort.tower_deviations(solos, solos), tol)
    assert not gpu_cohort.within(gpu_cohort.tower_deviations(twins, solos), tol)


@pytest.mark.slow
def test_cohort_towers_train_like_their_solo_runs_and_the_check_catches_another_configuration() -> None:
    task, splits = gpu_cohort.load("SyntheticLibriSpeech", {"train": 256, "val": 128, "test": 8, "speakers": 8})
    record = gpu_cohort.check(task, 2, splits, epochs=1, batch_size=64, learning_rate=1e-3, seed=3)
    assert record["passed"], record
    assert max(record["tower_distance"]) <= record["tolerance"]["distance"]
    # Towers of these configurations against solo runs of others (same seeds, other dropout): caught.
    configs = gpu_cohort.cohort_configs(2, 3)
    towers = gpu_cohort.cohort_runs(task, configs, splits, 1, 64, 1e-3)
    others = [gpu_cohort.solo_run(task, hp.__class__(hp.penalty, hp.lam, hp.l1_ratio, 0.5), s, splits, 1, 64, 1e-3)
              for hp, s in configs]
    twins = [gpu_cohort.solo_run(task, hp, s + gpu_cohort.TWIN_OFFSET, splits, 1, 64, 1e-3) for hp, s in configs]
    tol = gpu_cohort.tolerances(others, twins, len(splits.y_val))
    assert not gpu_cohort.within(gpu_cohort.tower_deviations(towers, others), tol)
