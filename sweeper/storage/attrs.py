"""The user attrs a planned trial is queued with, spelled here only, in storage because its re-queue keeps them (as a trial's result attrs are
in ``sweeper.tasks.results``): written when a design or an evaluation queues a trial, kept by a
re-queued copy (``sweeper.storage.requeue``), read back by the race, the report and the evaluation."""

from __future__ import annotations

# Why the trial was queued: one of the roles below.
ROLE = "role"
# A planned curve's or race's repeat (0-based; a race's confirmation repeats start at
# ``sweeper.study.adaptive.CONFIRM_OFFSET``), and an adaptive study's stage ("screen", "confirm").
REPEAT, STAGE = "repeat", "stage"
# The training seed a planned run uses instead of one derived from its trial number.
FIXED_SEED = "fixed_seed"
# An evaluation run (``<study>.eval``): its seed, the sweep's trial whose configuration it
# re-trains, and that configuration's group (a penalty type, dropout or the baseline).
EVAL_SEED, SOURCE_TRIAL, PENALTY_GROUP = "eval_seed", "source_trial", "penalty_group"

# What a queued trial was planned with; a re-queued copy keeps these and none of the old results.
PLANNED_ATTRS = (ROLE, REPEAT, STAGE, FIXED_SEED, EVAL_SEED, SOURCE_TRIAL, PENALTY_GROUP)
# The attrs that fix a planned run's seed, in the order a worker reads them.
SEED_ATTRS = (FIXED_SEED, EVAL_SEED)

# The roles: a search's baseline, its one trial per type and its grid points; a planned
# design's run (curve or race); a test-split evaluation run.
BASELINE_ROLE, TYPE_START_ROLE, GRID_ROLE = "baseline", "type_start", "grid"
CURVE_ROLE, EVALUATION_ROLE = "curve", "evaluation"
