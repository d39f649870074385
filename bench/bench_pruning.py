"""Pruning payoff: the same seeded TPE sampler with the median pruner vs no pruner, the same number
of CIFAR-10 trials, one worker (so the trial order is reproducible). Prints total epochs trained
and best validation accuracy of each. Target: <= 50% of the epochs, best within 0.5 pp.

    python bench/bench_pruning.py [--trials 16] [--epochs 5] [--train-size 1500] [--repeats 3] [--mirror ../shared/data]
"""

from __future__ import annotations

import argparse

import common


def one_run(args: argparse.Namespace, pruner: str, seed: int) -> tuple[int, float, float]:
    import optuna
    from optuna.trial import TrialState

    with common.postgres_database() as (_, url):
        environ = common.env(url, SWEEPER_DATA_MIRROR=args.mirror)
        common.sweeper(["launch", "cifar10", "--trials", str(args.trials), "--epochs", str(args.epochs),
                        "--train-size", str(args.train_size), "--pruner", pruner, "--sampler", "tpe",
                        "--seed", str(seed)], environ)
        _, wall = common.sweeper(["worker", "--sampler-seed", str(seed), "--threads", "2"], environ)
        study = optuna.load_study(study_name="cifar10", storage=url)
        finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
        epochs = sum(t.user_attrs.get("epochs_run", 0) for t in finished)
        best = max(t.value for t in study.get_trials(states=(TrialState.COMPLETE,)))
        return epochs, best, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mirror", default=common.DEFAULT_MIRROR)
    args = parser.parse_args()
    epoch_ratio, best_diff = [], []
    for seed in range(args.repeats):
        e_none, b_none, w_none = one_run(args, "none", seed)
        e_med, b_med, w_med = one_run(args, "median", seed)
        epoch_ratio.append(e_med / e_none)
        best_diff.append(100 * (b_med - b_none))
        print(f"seed {seed}: no pruner {e_none} epochs, best {b_none:.4f}, {w_none:.0f} s | "
              f"median pruner {e_med} epochs, best {b_med:.4f}, {w_med:.0f} s", flush=True)
    print(f"{args.trials} trials x {args.epochs} epochs, train size {args.train_size}, {args.repeats} seeds")
    print(f"epochs with median pruner / without: {common.spread(epoch_ratio)}  (target <= 0.50)")
    print(f"best val acc, pruned minus unpruned (pp): {common.spread(best_diff)}  (target >= -0.5)")


if __name__ == "__main__":
    main()
