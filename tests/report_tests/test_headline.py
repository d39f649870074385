"""The sentence a page and the index lead with: what is known now and what it would take to know
more (issue 27), on studies of known trials."""

from __future__ import annotations

from optuna.trial import TrialState

from sweeper.report import collect_report
from sweeper.report.headline import headline
from sweeper.report.outcomes import study_notes
from tests.report_tests.known import curve_study, known_study, params

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
