"""The soak's short version (``bench/soak.py``): a search and an adaptive race on PostgreSQL
through PgBouncer, with random SIGKILLs of workers, a PostgreSQL restart and a PgBouncer restart;
budgets exact, no trial run twice, every planned run once, the race's verdicts identical to the
same race run without faults."""

from __future__ import annotations

import pytest

from bench.soak import short_options, soak

pytestmark = pytest.mark.slow


def test_a_short_soak_keeps_budgets_planned_runs_and_verdicts() -> None:
    lines: list[str] = []
    assert soak(short_options(), say=lines.append), "\n".join(lines)
    faults = next(line for line in lines if line.startswith("soak:"))
    # The faults did happen: workers were killed and replaced, both servers restarted.
    assert "SIGKILLs" in faults and " 0 SIGKILLs" not in faults, faults
    assert "PostgreSQL restarts 1" in faults and "PgBouncer restarts 1" in faults, faults
    assert "faults left unplayed 0" in faults, faults
