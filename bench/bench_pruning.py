"""Pruning and regularization: what each pruner costs each penalty type. The same seeded TPE
sweep, one worker (so the trial order is reproducible), three ways:

- ``group``: this code's default (``--pruner median``: the median of a trial's own penalty group,
  from the middle of training; one queued trial per type after the baseline);
- ``none``: this code with ``--pruner none`` (the same queued trials, nothing pruned);
- ``old``: the code before issue 27 (``--old-rev``, exported with ``git archive``) with its default
  median pruner over every trial from a third of training, and only the baseline queued.

Per task, arm and penalty group (unregularized, dropout only, L1, L2, L1+L2) it prints how many
trials ran, the share pruned, and the best validation value found; then epochs trained and wall
time. Tasks: CIFAR-10 from the data mirror and ``examples/digits.py`` (a user's task).
Targets: under ``group`` every group has a complete trial and no group loses more than 1 pp of
its best value against ``none``.

    python bench/bench_pruning.py [--tasks cifar10 digits] [--trials 12] [--repeats 2]
        [--cifar-epochs 6] [--cifar-train-size 2000] [--digits-epochs 20] [--arms group none old]
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import common

GROUPS = ("baseline", "dropout", "l1", "l2", "l1_l2")


@dataclass
class Run:
    epochs: int
    wall: float
    # per group: trials finished, trials pruned (diverged included), best complete value or None
    groups: dict[str, tuple[int, int, float | None]] = field(default_factory=dict)


def old_tree(rev: str, into: Path) -> Path:
    """The repository at ``rev``, exported (no worktree, nothing in .git changes)."""
    archive = into / "old.tar"
    subprocess.run(["git", "-C", str(common.REPO), "archive", "--format=tar", "-o", str(archive), rev], check=True)
    tree = into / "old"
    tree.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def default_old_rev() -> str:
    """The parent of the commit that introduced the group pruner."""
    first = subprocess.run(["git", "-C", str(common.REPO), "rev-list", "--reverse", "HEAD", "--",
                            "sweeper/study/pruning.py"], check=True, capture_output=True, text=True).stdout.split()
    return f"{first[0]}^"


def one_run(task: str, args: argparse.Namespace, arm: str, seed: int, old: Path | None) -> Run:
    import optuna
    from optuna.trial import TrialState

    from sweeper.study.points import group_of
    from sweeper.tasks.hyperparams import dropout_of, penalty_of

    tree = old if arm == "old" else common.REPO
    if task == "cifar10":
        reference, name = "cifar10", "cifar10"
        size = ["--epochs", str(args.cifar_epochs), "--train-size", str(args.cifar_train_size)]
    else:
        reference, name = str(tree / "examples" / "digits.py"), "digits"
        size = ["--epochs", str(args.digits_epochs)]
    with common.postgres_database() as (_, url):
        environ = common.env(url, SWEEPER_DATA_MIRROR=args.mirror)
        environ["PYTHONPATH"] = str(tree)
        common.sweeper(["launch", reference, "--trials", str(args.trials), *size,
                        "--pruner", "none" if arm == "none" else "median", "--sampler", "tpe",
                        "--seed", str(seed)], environ, cwd=tree)
        _, wall = common.sweeper(["worker", "--sampler-seed", str(seed), "--threads", "2"], environ, cwd=tree)
        study = optuna.load_study(study_name=name, storage=url)
        finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
        run = Run(epochs=sum(t.user_attrs.get("epochs_run", 0) for t in finished), wall=wall)
        for group in GROUPS:
            mine = [t for t in finished if group_of(penalty_of(t.params), dropout_of(t.params)) == group]
            values = [t.value for t in mine if t.state == TrialState.COMPLETE]
            best = (max(values) if study.direction.name == "MAXIMIZE" else min(values)) if values else None
            run.groups[group] = (len(mine), sum(t.state == TrialState.PRUNED for t in mine), best)
        return run


def describe(run: Run) -> str:
    cells = []
    for group in GROUPS:
        n, pruned, best = run.groups[group]
        cells.append(f"{group} {pruned}/{n} pruned, best {'-' if best is None else f'{best:.4f}'}")
    return "; ".join(cells) + f" | {run.epochs} epochs, {run.wall:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["cifar10", "digits"], choices=["cifar10", "digits"])
    parser.add_argument("--arms", nargs="+", default=["group", "none", "old"], choices=["group", "none", "old"])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--cifar-epochs", type=int, default=6)
    parser.add_argument("--cifar-train-size", type=int, default=2000)
    parser.add_argument("--digits-epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--old-rev", default=None, help="the code before issue 27 (default: the parent of "
                        "the commit that added sweeper/study/pruning.py)")
    parser.add_argument("--mirror", default=common.DEFAULT_MIRROR)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = old_tree(args.old_rev or default_old_rev(), Path(tmp)) if "old" in args.arms else None
        for task in args.tasks:
            runs: dict[str, list[Run]] = {arm: [] for arm in args.arms}
            for seed in range(args.repeats):
                for arm in args.arms:
                    run = one_run(task, args, arm, seed, old)
                    runs[arm].append(run)
                    print(f"{task} seed {seed} {arm:5s}: {describe(run)}", flush=True)
            size = (f"{args.cifar_epochs} epochs, train size {args.cifar_train_size}" if task == "cifar10"
                    else f"{args.digits_epochs} epochs, train size 400")
            print(f"{task}: {args.trials} trials x {size}, seeds 0..{args.repeats - 1}; over the seeds:")
            for arm in args.arms:
                cells = []
                for group in GROUPS:
                    n = sum(r.groups[group][0] for r in runs[arm])
                    pruned = sum(r.groups[group][1] for r in runs[arm])
                    bests = [r.groups[group][2] for r in runs[arm]]
                    shown = ", ".join("-" if b is None else f"{b:.3f}" for b in bests)
                    cells.append(f"{group} {pruned}/{n} pruned, best {shown}")
                epochs = common.median([r.epochs for r in runs[arm]])
                print(f"  {arm:5s}: " + "; ".join(cells) + f" | median {epochs:.0f} epochs")


if __name__ == "__main__":
    main()
