"""The sentence a page and the index lead with: what is known now and what it would take to know
more (issue 27), on studies of known trials."""

from __future__ import annotations

import dataclasses

from optuna.trial import TrialState

from sweeper.report import collect_report
from sweeper.report.headline import headline
from sweeper.report.outcomes import study_notes
from sweeper.report.curves import response_curves
from sweeper.report.write import load_report
from sweeper.settings import Settings
from sweeper.stats.intervals import Difference
from sweeper.stats.verdicts import Comparison, GroupVerdict
from sweeper.storage import open_storage
from tests.report_tests.known import curve_study, eval_study, known_study, params

DIVERGED = {"attrs": {"stop_reason": "diverged: non-finite loss at epoch 1"}}


def test_a_search_leads_with_the_best_per_type_as_single_runs_and_the_cost_of_deciding() -> None:
    data = collect_report(known_study())
    text = headline(data)
    assert text.startswith("Best validation accuracy per type, one run each (a search ranks single runs, so "
                           "nothing here is decided): unregularized 62.0%, dropout only 64.0% (rate 0.3), "
                           "L1 65.0% (λ ≈ 1.0e-3), L2 70.0% (λ ≈ 3.0e-4, dropout 0.2), L1+L2 66.0% (λ ≈ 1.0e-4, dropout 0.1). ")
    # What deciding costs: the adaptive design's bound, at the trials' measured 3 s each.
    assert "To decide whether each helps, run `sweeper run cifar10 --design adaptive`: at most " in text
    assert "trials, ≈ " in text and "at the measured 3 s a trial with one worker." in text
    assert "not evaluated yet" not in text


def test_a_type_without_a_finished_trial_is_named_in_the_headline() -> None:
    rows = [(TrialState.COMPLETE, params("none"), 0.80, {}), (TrialState.COMPLETE, params("l2", 1e-3), 0.82, {}),
            (TrialState.PRUNED, params("l1", 1e-4), None, {"intermediate": {1: 0.5}, "attrs": {"stop_reason": "pruned"}}),
            (TrialState.PRUNED, params("l1", 1e-2), None, DIVERGED)]
    text = headline(collect_report(known_study(rows=rows)))
    assert "; no finished trial: L1 (1 pruned, 1 diverged)." in text


def test_a_study_where_most_trials_diverged_says_so_first_and_names_every_type_that_did() -> None:
    rows = [(TrialState.PRUNED, params("none"), None, DIVERGED), (TrialState.PRUNED, params("none"), None, DIVERGED),
            (TrialState.PRUNED, params("l2", 1e-3), None, DIVERGED), (TrialState.PRUNED, params("l2", 1e-2), None, DIVERGED),
            (TrialState.PRUNED, params("l1", 1e-3), None, DIVERGED), (TrialState.PRUNED, params("l1_l2", 1e-3), None, DIVERGED),
            (TrialState.PRUNED, params("l1", 1e-4), None, {"intermediate": {1: 18486.0}, **DIVERGED}),
            (TrialState.COMPLETE, params("l1", 1e-5), 0.5, {})]
    data = collect_report(known_study(rows=rows))
    assert headline(data).startswith("Most trials diverged: 7 of 8 (a NaN or infinite loss), the unregularized "
                                     "baseline's in 2 of 2: regularization is not the cause.")
    notes = study_notes(data)
    assert notes[-1] == ("Diverged (a NaN or infinite loss; not plotted, listed under the trials without a result): "
                         "unregularized 2 of 2 trials, L1 2 of 3 trials, L2 2 of 2 trials, L1+L2 1 of 1 trial")
    assert any(n.startswith("L2: none of its 2 trials produced a result") for n in notes)


def test_a_model_at_chance_on_every_trial_says_it_learns_nothing() -> None:
    rows = [(TrialState.COMPLETE, params(p, lam), 0.1, {}) for p, lam in
            [("none", None), ("l1", 1e-3), ("l2", 1e-3), ("l1_l2", 1e-3), ("l2", 1e-5), ("l1", 1e-5)]]
    text = headline(collect_report(known_study(rows=rows)))
    assert text.startswith("Most trials learned nothing: 6 of 6 finished at the same validation accuracy, 0.1")


def test_a_planned_study_leads_with_its_verdicts_and_what_would_settle_the_rest() -> None:
    text = headline(collect_report(curve_study()))
    # 3 seeds per point: nothing is decided; the seeds needed per undecided type, and their cost.
    assert text.startswith("Nothing decided yet; undecided: dropout only, L1, L2 (about ")
    assert "more seeds each would settle them: about " in text


def _with_l2(curves, verdict):  # type: ignore[no-untyped-def]
    """The study's real curves with L2's decision replaced by ``verdict``."""
    return dataclasses.replace(curves, decisions={**curves.decisions, "l2": verdict})


def _comparison(diff: float, low: float, high: float) -> Comparison:
    return Comparison(x=1e-2, gain=Difference(diff, low, high, 0.01, 3.0, 17), level=0.99, n=18, sd=0.02)


def test_a_type_undecided_at_its_last_epoch_but_decided_against_early_stopping_is_in_the_headline() -> None:
    """IMDb's L2 (docs/findings.md): undecided trained to the end, +2.9 pp over the early-stopped
    baseline on fresh seeds. The headline must not read "nothing decided"."""
    data = collect_report(curve_study())
    curves = response_curves(data)
    undecided = GroupVerdict("l2", "undecided", _comparison(0.015, -0.008, 0.037),
                             early=_comparison(0.029, 0.008, 0.050), more_seeds=18, scope="finalist")
    text = headline(data, _with_l2(curves, undecided))
    assert text.startswith("L2 helps on top of early stopping (+2.9 pp; undecided at the last epoch); undecided: ")
    assert "nothing decided" not in text.lower()


def test_a_race_that_can_grow_names_the_command_that_settles_its_cheapest_undecided_type() -> None:
    """Issue 30: "about 20 more seeds would settle it" is one command away, and a finalist that
    stopped because its seeds could not decide it is named as such."""
    data = collect_report(curve_study())
    curves = dataclasses.replace(response_curves(data), stage="done", grow_command="sweeper run cifar10", rounds=3)
    stopped = GroupVerdict("dropout", "undecided", _comparison(0.002, -0.03, 0.034), more_seeds=45, more_rounds=5,
                           scope="finalist", stopped=0.01, stopped_after=1)
    close = GroupVerdict("l2", "undecided", _comparison(0.015, -0.004, 0.034), more_seeds=9, more_rounds=1,
                         scope="finalist")
    decisions = {g: GroupVerdict(g, "no gain", _comparison(0.0, -0.01, 0.009), scope="finalist")
                 for g in ("l1", "l1_l2")}
    text = headline(data, dataclasses.replace(curves, decisions={**decisions, "dropout": stopped, "l2": close}))
    assert text.startswith("L1: no gain; L1+L2: no gain; undecided: dropout only, L2; dropout only stopped early: "
                           "its seeds could not decide it within the planned rounds. ")
    # The added round may go to dropout too (with the baseline's seeds): the trials are a bound.
    assert text.endswith("To settle them, L2 would take about 9 more seeds, at most 27 trials, ≈ 1 min at the "
                         "measured 3 s a trial with one worker: `sweeper run cifar10 --rounds 4`; dropout only about 45.")
    alone = headline(data, dataclasses.replace(curves, decisions={**decisions, "l2": close}))
    assert alone.endswith("L2 would take about 9 more seeds, about 18 trials, ≈ 1 min at the measured 3 s a trial "
                          "with one worker: `sweeper run cifar10 --rounds 4`.")


def test_the_test_split_leads_and_the_decided_validation_verdicts_follow(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """CIFAR-10 re-raced: three test seeds decide nothing, the race decided dropout on 18 fresh
    seeds; the headline says both."""
    storage = open_storage(Settings(storage=f"sqlite:///{tmp_path / 's.db'}"), create_tables=True)
    curve_study("curve", storage)
    eval_study("curve", storage, {("baseline", 0): [0.60, 0.61, 0.62], ("l2", 5): [0.60, 0.63, 0.59]},
               {"baseline": params("none"), "l2": params("l2", 1e-2)})
    data = load_report(storage, "curve")
    helps = GroupVerdict("l2", "helps", _comparison(0.02, 0.003, 0.038), helps_at=(1e-2,), scope="finalist")
    text = headline(data, _with_l2(response_curves(data), helps))
    assert text.startswith("On the test split: ")
    assert text.endswith("On validation (the response curves): L2 helps (+2.0 pp).")
