"""Verdict scenarios through the real CLI, as a user would run them: for each scenario of
``bench/synthetic_task.py`` (a task with a known truth: uneven epoch noise, seed-wise collapse near
the break, divergence on both sides), ``sweeper launch --design adaptive``, ``sweeper worker
--workers 2`` and ``sweeper report``, one SQLite study per run with its own seed; then every
sentence the page printed is scored against the truth: a false "helps", "hurts", "no difference"
or "no gain" at the last epoch, with early stopping, or a note that says a point collapsed on a
seed where the world never collapses it and its true mean loss is under 5 margins. Slow (each study is ~130 trials through real worker
processes): it shows that the CLI path prints what the simulator (``bench_verdicts.py``) measures,
not the error rates themselves, which need thousands of studies.

    python bench/bench_cli_verdicts.py [--studies 4] [--scenarios uneven collapse diverge]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic_task import SCENARIOS, collapse_probability, truth  # noqa: E402
from sweeper.stats.verdicts import HELPS, HURTS, NO_DIFFERENCE, NO_GAIN  # noqa: E402

EPOCHS = 12


def sweeper(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", "from sweeper.cli import console; console()", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sweeper {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")


def false_claims(curves, gain) -> list[str]:  # type: ignore[no-untyped-def]
    """Every sentence of the page's verdicts that the truth contradicts, in words."""
    margin = curves.margin or 0.01
    out = []
    for group, v in curves.decisions.items():
        last = {c.x: gain(group, c.x)[0] for c in v.comparisons}
        out += [f"{group} helps at {x:g}" for x in v.helps_at if last.get(x, gain(group, x)[0]) <= 0]
        out += [f"{group} hurts at {x:g}" for x in v.hurts_at if last.get(x, gain(group, x)[0]) >= 0]
        if v.outcome == NO_DIFFERENCE and any(abs(t) >= margin for t in last.values()):
            out.append(f"{group} no difference (truth {min(last.values()):+.4f})")
        if v.outcome == NO_GAIN and any(t >= margin for x, t in last.items() if x not in v.hurts_at):
            out.append(f"{group} no gain")
        if v.early is not None:
            e, true = v.early.outcome(margin), gain(group, v.early.x)[1]
            if (e == HELPS and true <= 0) or (e == HURTS and true >= 0) or (e == NO_DIFFERENCE and abs(true) >= margin) \
                    or (e == NO_GAIN and true >= margin):
                out.append(f"{group} {e} with early stopping (truth {true:+.4f})")
    # A note that a point collapsed on a seed is false where the world never collapses it and its
    # mean is within 5 margins (the low seed was noise); "diverged" states what a run did.
    races = {}
    for group, points in [*curves.penalties.items(), ("dropout", curves.dropout)]:
        for p in points:
            if p.dropped and "collapsed on" in p.dropped and collapse_probability(group, p.x) == 0 \
                    and gain(group, p.x)[0] > -5 * margin:
                races[(group, p.x)] = p.dropped
    out += [f"{g} at {x:g}: {why}" for (g, x), why in races.items()]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=4, help="studies per scenario (default 4)")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from sweeper.report import collect_report
    from sweeper.report.curves import response_curves
    from sweeper.settings import Settings
    from sweeper.storage import load_study, open_storage

    task = str(ROOT / "bench" / "synthetic_task.py")
    print(f"{'scenario':<10} {'study':>5} {'trials':>6} {'seconds':>7}  false claims")
    for scenario in args.scenarios:
        gain = truth(scenario, EPOCHS)
        bad = 0
        for i in range(args.studies):
            with tempfile.TemporaryDirectory() as tmp:
                cwd = Path(tmp)
                url = f"sqlite:///{cwd / 'sweeper.db'}"
                start = time.perf_counter()
                common = ["--storage", url]
                sweeper("launch", task, "--design", "adaptive", "--epochs", str(EPOCHS), "--seed", str(i),
                        "--option", f"scenario={scenario}", *common, cwd=cwd)
                sweeper("worker", "--workers", str(args.workers), *common, cwd=cwd)
                sweeper("report", "synthetic", "--out", str(cwd / "reports"), *common, cwd=cwd)
                seconds = time.perf_counter() - start
                study = load_study(open_storage(Settings(storage=url)), "synthetic")
                curves = response_curves(collect_report(study))
                claims = false_claims(curves, gain)
                bad += bool(claims)
                print(f"{scenario:<10} {i:>5} {len(study.trials):>6} {seconds:>7.0f}  "
                      f"{'; '.join(claims) or 'none'}", flush=True)
                for g, sentence in curves.verdicts.items():
                    print(f"{'':>32}{sentence}")
        print(f"{scenario}: {bad} of {args.studies} studies printed a false claim", flush=True)


if __name__ == "__main__":
    main()
