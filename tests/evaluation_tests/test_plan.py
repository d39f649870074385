"""``sweeper evaluate``'s enqueue and resume logic, on SQLite and PostgreSQL."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.storage.counts import count_trials
from sweeper.errors import ConfigError, NoStudyError
from sweeper.evaluation.plan import eval_seeds, prepare
from sweeper.settings import Settings
from sweeper.study.space import SearchSpace
from sweeper.storage import open_storage
from sweeper.study.config import CONFIG_ATTR, SweepConfig
from tests.report_tests.known import KNOWN, known_study

# Our stand-in worker uses ask/tell, which Optuna warns is not how heartbeats are meant to be used.
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


@pytest.fixture
def settings(storage_url: str) -> Settings:
    settings = Settings(storage=storage_url)
    known_study("cifar10", open_storage(settings, create_tables=True))
    return settings


def _eval(settings: Settings) -> optuna.Study:
    return optuna.load_study(study_name="cifar10.eval", storage=open_storage(settings))


def _work(study: optuna.Study, states: list[TrialState]) -> None:
    """Do what a worker does with the next queued runs: take them, then finish them as given."""
    for state in states:
        trial = study.ask()
        SearchSpace().suggest(trial)
        study.tell(trial, 0.5 if state == TrialState.COMPLETE else None, state=state)


def test_first_evaluate_enqueues_best_of_each_group_and_the_baseline(settings: Settings) -> None:
    plan = prepare(settings, "cifar10", seeds=2)
    assert plan.created and plan.eval_study == "cifar10.eval"
    assert plan.groups == ["baseline", "dropout", "l1", "l2", "l1_l2"]
    assert len(plan.enqueued) == 10 and plan.kept == 0 and plan.budget == 10
    study = _eval(settings)
    trials = study.get_trials()
    assert all(t.state == TrialState.WAITING for t in trials)
    runs = {(t.user_attrs["penalty_group"], t.user_attrs["eval_seed"]): t for t in trials}
    assert set(runs) == {(g, s) for g in plan.groups for s in eval_seeds(0, 2)}
    l2 = runs[("l2", 1)]
    assert l2.user_attrs == {"eval_seed": 1, "role": "evaluation", "source_trial": 5, "penalty_group": "l2"}
    assert l2.system_attrs["fixed_params"] == {"penalty": "l2", "lambda": 3e-4, "dropout": 0.2}
    # The baseline is the unregularized configuration, whichever baseline trial was best (#1).
    base = runs[("baseline", 0)]
    assert base.system_attrs["fixed_params"] == {"penalty": "none", "dropout": 0.0}
    assert base.user_attrs["source_trial"] == 1
    config = SweepConfig.from_attrs(study.user_attrs[CONFIG_ATTR])
    assert (config.kind, config.parent, config.pruner, config.budget) == ("evaluate", "cifar10", "none", 10)
    assert config.task == "cifar10" and config.epochs == 4  # the rest is the parent's config


def test_second_evaluate_resumes_without_redoing_finished_or_queued_seeds(settings: Settings) -> None:
    prepare(settings, "cifar10", seeds=2)
    again = prepare(settings, "cifar10", seeds=2)
    assert not again.created and again.enqueued == [] and again.kept == 10 and again.budget == 10
    study = _eval(settings)
    _work(study, [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL])
    failed = study.get_trials(states=(TrialState.FAIL,))[0]
    more = prepare(settings, "cifar10", seeds=3)
    # Five new third seeds, and the failed run again with its own seed; nothing else.
    assert len(more.enqueued) == 6 and more.kept == 9
    assert sorted((r.group, r.seed) for r in more.enqueued) == sorted(
        [(g, 2) for g in more.groups] + [(failed.user_attrs["penalty_group"], failed.user_attrs["eval_seed"])]
    )
    counts = count_trials(study)
    assert (counts.complete, counts.fail, counts.waiting) == (2, 1, 13)
    # The worker's budget rule (complete + pruned == budget) then runs exactly the queued runs.
    assert more.budget == 15 == counts.finished + counts.waiting
    assert SweepConfig.from_attrs(_eval(settings).user_attrs[CONFIG_ATTR]).budget == 15


def test_evaluate_refuses_what_it_cannot_evaluate(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        prepare(settings, "cifar10", seeds=0)
    with pytest.raises(NoStudyError, match="no study named 'nope'"):
        prepare(settings, "nope", seeds=2)
    known_study("unfinished", open_storage(settings), rows=[r for r in KNOWN if r[0] != TrialState.COMPLETE])
    with pytest.raises(NoStudyError, match="no complete trials to evaluate yet"):
        prepare(settings, "unfinished", seeds=2)
    prepare(settings, "cifar10", seeds=1)
    with pytest.raises(ConfigError, match="already an evaluation study: .*sweeper evaluate cifar10"):
        prepare(settings, "cifar10.eval", seeds=2)


def test_no_run_only_enqueues_for_remote_workers(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from sweeper.cli import main

    assert main(["evaluate", "cifar10", "--seeds", "1", "--no-run", "--storage", settings.storage]) == 0
    out = capsys.readouterr().out
    assert "evaluation study cifar10.eval created: 5 runs enqueued" in out
    assert "sweeper worker --study cifar10.eval" in out
    assert count_trials(_eval(settings)).waiting == 5
    assert main(["evaluate", "cifar10", "--seeds", "0", "--storage", settings.storage]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err


def test_a_type_is_not_ranked_from_one_collapsed_run_and_a_type_without_results_is_named() -> None:
    """The default search, as a new user met it: L1's only complete trial collapsed (λ = 6.3e-3,
    0.10) while its pruned trials were at 0.77-0.79 when stopped; both L2 trials diverged. The
    re-run L1 configuration is the best pruned one, L2 is left out with the reason, and the
    verdict speaks only for the types evaluated."""
    from sweeper.evaluation.plan import plan_runs
    from sweeper.evaluation.results import Run, summarize
    from tests.report_tests.known import params as p, trial

    trials = [
        trial(TrialState.COMPLETE, p("none"), 0.85),
        trial(TrialState.COMPLETE, p("l1", 6.3e-3), 0.10),
        trial(TrialState.PRUNED, p("l1", 2e-5), intermediate={0: 0.70, 1: 0.79}),
        trial(TrialState.PRUNED, p("l1", 4e-4), intermediate={0: 0.77}),
        trial(TrialState.PRUNED, p("l2", 3e-2), attrs={"stop_reason": "diverged: non-finite loss at epoch 1"}),
        trial(TrialState.PRUNED, p("l2", 5e-2), attrs={"stop_reason": "diverged: non-finite loss at epoch 1"}),
        trial(TrialState.COMPLETE, p("none", dropout=0.3), 0.84),
        trial(TrialState.COMPLETE, p("l1_l2", 5e-2, l1_ratio=0.5), 0.11),
    ]
    for number, t in enumerate(trials):
        t.number = number
    left_out: dict[str, str] = {}
    runs = plan_runs(trials, [0, 1], left_out=left_out)
    chosen = {r.group: r.params for r in runs}
    assert chosen["l1"] == {"penalty": "l1", "lambda": 2e-5, "dropout": 0.0}
    assert set(chosen) == {"baseline", "dropout", "l1"}
    assert left_out == {
        "l2": "no finished trial to choose from (2 tried, 2 diverged)",
        "l1_l2": "every one of its 1 finished trials collapsed (best 0.11 against the baseline's 0.85)",
    }
    noise = {("baseline", 0): 0.0, ("baseline", 1): 0.02, ("dropout", 0): 0.01, ("dropout", 1): 0.0,
             ("l1", 0): -0.01, ("l1", 1): 0.02}
    evaluated = [Run(i, "complete", r.group, None, r.seed, r.params, 0.8 + noise[(r.group, r.seed)])
                 for i, r in enumerate(runs)]
    text = summarize("x.eval", evaluated, left_out=left_out).verdict()
    assert text.startswith("no penalty type evaluated beats the unregularized baseline beyond noise")
    assert text.endswith("; L2 not evaluated: no finished trial to choose from (2 tried, 2 diverged); L1+L2 not "
                         "evaluated: every one of its 1 finished trials collapsed (best 0.11 against the baseline's 0.85)")
