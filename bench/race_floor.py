"""What any design needs to find a gain among the penalty types, even knowing where each acts: the
floor under issue 30's acceptance ("+2 pp found with 80% power within 2x the oracle's compute").

The oracle of the issue knows which type helps and at which λ, and tests that one point against
the baseline (paired t, α = 0.05, two-sided). A design that answers the question sweeper is for
("does L1, L2, L1+L2 or dropout help?") cannot know which type it is: it tests every type, so its
family has one comparison per type, and it pays seeds for each. This bench gives such designs the
oracle's other knowledge for free (each type's best λ, so no bracket and no screening) and finds
the fewest trials each needs for the power asked:

    oracle       the helping point and the baseline, n pairs, paired t at α (2n trials)
    all types    every type and the baseline, n seeds each, a paired t per type at α / types
                 (Bonferroni; ``--early`` doubles the family: each type is also judged against
                 early stopping, as sweeper's race does), (types + 1) n trials
    two stages   every type and the baseline n1 seeds; the type that looks best gets n2 fresh
                 seeds (with the baseline); its one-sided p-values of both stages combined with
                 fixed inverse-normal weights (a valid test after selection: Bauer and Koehne
                 1994), at α / types (Bonferroni over the types it could have picked);
                 (types + 1) n1 + 2 n2 trials. Only "helps" is tested, which flatters it.
    λ unknown    the same two stages with ``--points`` candidate λ per type instead of the best
                 one (one of them helps, the others do nothing): stage 1 screens every candidate,
                 and the test after it is at α / (types x points). It still needs no bracket
                 (the candidates are given), so it too is a floor.

Every run is normal, paired sd ``--sd`` (each run sd / √2, the baseline's seeds shared by every
comparison, as in a race); the power of the designs with a choice is estimated over ``--reps``
simulated studies (seeded), the oracle's and the fixed design's are the noncentral t's, exact.
The figures are lower bounds for sweeper's race, which must also find each type's λ (its bracket
and screening: 44-50 trials in bench/bench_verdicts.py's world) and says "hurts", "no difference"
and "no gain" too.

``--pooled`` measures another of issue 30's levers instead: one variance for the comparisons that
share the baseline's seeds (a randomized-block residual variance over the baseline and every
finalist, as Dunnett's many-to-one procedure uses, with types x (n - 1) degrees of freedom) against
the race's separate paired t-intervals (n - 1 each), at the race's own levels
(``sweeper.study.adaptive.race_family``: 4 finalists, 2 comparisons each, 3 planned rounds of 9
seeds, 10% of α kept). Every finalist races every round (no futility stop, λ known), so only the
interval differs: the studies with any false "helps" or "hurts" when nothing helps, and the power
for one finalist at +effect, as one finalist's paired sd grows to ``ratio`` times the others'.

    python bench/race_floor.py [--sd 1.5 2.2 3.6] [--effect 2] [--types 4] [--points 3] [--power 0.8] [--early]
    python bench/race_floor.py --pooled [--sd 2.2] [--ratios 1 1.3 1.5]
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweeper.study.adaptive import ALPHA_RESERVE, race_family  # noqa: E402

ALPHA = 0.05


def t_power(n: int, effect: float, sd: float, alpha: float) -> float:
    """Power of a two-sided paired t at ``alpha`` over ``n`` pairs to find ``effect`` (its sign
    right): the noncentral t."""
    df = n - 1
    crit = stats.t.isf(alpha / 2, df)
    return float(stats.nct.sf(crit, df, effect / sd * math.sqrt(n)))


def fewest_pairs(effect: float, sd: float, alpha: float, power: float, most: int = 2000) -> int:
    for n in range(2, most):
        if t_power(n, effect, sd, alpha) >= power:
            return n
    raise ValueError(f"more than {most} pairs needed")


@dataclass(frozen=True)
class TwoStage:
    n1: int
    n2: int
    arms: int  # candidates screened at stage 1: types x points
    power: float  # the helping candidate picked and found
    picked: float  # the helping candidate picked after stage 1
    claimed: float  # whichever candidate was picked, found to help (with no effect: the false claims)

    @property
    def trials(self) -> int:
        return (self.arms + 1) * self.n1 + 2 * self.n2


def two_stage_power(n1: int, n2: int, arms: int, effect: float, sd: float, alpha: float, reps: int,
                    rng: np.random.Generator) -> TwoStage:
    """Candidate 0 helps by ``effect``; the rest do nothing. Stage 1: every candidate and the
    baseline on n1 seeds; the one with the largest mean paired gain goes on. Stage 2: it and the
    baseline on n2 fresh seeds. Its one-sided p-values (paired t) combine with weights √(n1/n),
    √(n2/n), and it is found when the combination clears α / arms."""
    run = sd / math.sqrt(2)
    base1 = rng.normal(0, run, (reps, 1, n1))
    arms1 = rng.normal(0, run, (reps, arms, n1))
    arms1[:, 0, :] += effect
    gains1 = arms1 - base1
    mean1 = gains1.mean(axis=2)
    pick = mean1.argmax(axis=1)
    g1 = gains1[np.arange(reps), pick]
    t1 = g1.mean(axis=1) / (g1.std(axis=1, ddof=1) / math.sqrt(n1))
    g2 = rng.normal(0, sd, (reps, n2)) + np.where(pick == 0, effect, 0.0)[:, None]
    t2 = g2.mean(axis=1) / (g2.std(axis=1, ddof=1) / math.sqrt(n2))
    z1 = stats.norm.isf(stats.t.sf(t1, n1 - 1))
    z2 = stats.norm.isf(stats.t.sf(t2, n2 - 1))
    n = n1 + n2
    z = math.sqrt(n1 / n) * z1 + math.sqrt(n2 / n) * z2
    claimed = z > stats.norm.isf(alpha / arms)
    return TwoStage(n1, n2, arms, float((claimed & (pick == 0)).mean()), float((pick == 0).mean()),
                    float(claimed.mean()))


def best_two_stage(arms: int, effect: float, sd: float, alpha: float, power: float, reps: int,
                   seed: int) -> TwoStage | None:
    """The two-stage design with the fewest trials whose power reaches ``power``: for each n1,
    the smallest n2 that does (power grows with n2), found by bisection."""
    best: TwoStage | None = None
    for n1 in range(2, 40):
        if best is not None and (arms + 1) * n1 >= best.trials:
            break
        lo, hi = 2, 400
        rng_seed = seed * 1000 + n1
        top = two_stage_power(n1, hi, arms, effect, sd, alpha, reps, np.random.default_rng(rng_seed))
        if top.power < power:
            continue
        while lo < hi:  # the smallest n2 that reaches the power (the same draws at each n2)
            mid = (lo + hi) // 2
            if two_stage_power(n1, mid, arms, effect, sd, alpha, reps, np.random.default_rng(rng_seed)).power >= power:
                hi = mid
            else:
                lo = mid + 1
        found = two_stage_power(n1, lo, arms, effect, sd, alpha, reps, np.random.default_rng(rng_seed))
        if best is None or found.trials < best.trials:
            best = found
    return best


def race_intervals(ratio: float, effect: float, sd: float, pooled: bool, reps: int, rng: np.random.Generator,
                   types: int = 4, repeats: int = 9, rounds: int = 3) -> tuple[float, float]:
    """The race's confirmation rounds with every finalist racing to the end (λ known): finalist
    0 gains ``effect``, the rest nothing, the last one's paired sd ``ratio`` x ``sd``. Each look
    judges each finalist still open by a t-interval at the race's level for that look, from its
    own paired gains (n - 1 df) or with one residual variance over the baseline and all
    finalists (types x (n - 1) df). Returns the share of studies with a false "helps" or
    "hurts", and the share in which finalist 0 was found to help."""
    family = race_family(types, rounds, ALPHA_RESERVE)
    run = sd / math.sqrt(2)
    n_all = repeats * rounds
    base = rng.normal(0, run, (reps, 1, n_all))
    # The baseline's runs have sd sd / √2; a finalist's runs are drawn so its paired sd is its own.
    run_sds = np.full(types, run)
    run_sds[-1] = math.sqrt((ratio * sd) ** 2 - run ** 2)
    arms = rng.normal(0, 1, (reps, types, n_all)) * run_sds[None, :, None]
    arms[:, 0, :] += effect
    truth = np.zeros(types)
    truth[0] = effect
    false = np.zeros(reps, bool)
    found = np.zeros(reps, bool)
    open_ = np.ones((reps, types), bool)
    for k in range(1, rounds + 1):
        n = k * repeats
        gains = arms[:, :, :n] - base[:, :, :n]
        mean = gains.mean(axis=2)
        if pooled:
            runs = np.concatenate([base[:, :, :n], arms[:, :, :n]], axis=1)
            resid = runs - runs.mean(axis=1, keepdims=True) - runs.mean(axis=2, keepdims=True) + runs.mean(
                axis=(1, 2), keepdims=True)
            df = types * (n - 1)
            se = np.sqrt(2 * (resid ** 2).sum(axis=(1, 2)) / df / n)[:, None]
        else:
            df = n - 1
            se = gains.std(axis=2, ddof=1) / math.sqrt(n)
        decided = (np.abs(mean / se) > stats.t.isf((1 - family.level(k)) / 2, df)) & open_
        right = (np.sign(mean) == np.sign(truth)[None, :]) & (truth != 0)[None, :]
        false |= (decided & ~right).any(axis=1)
        found |= decided[:, 0] & (mean[:, 0] > 0)
        open_ &= ~decided
    return float(false.mean()), float(found.mean())


def pooled_table(sds: list[float], ratios: list[float], effect: float, reps: int, seed: int) -> None:
    print(f"the race's intervals at its levels (4 finalists x 2 comparisons, 3 rounds of 9 seeds, every finalist "
          f"racing to the end, λ known), {reps} studies a cell")
    print(f"{'paired sd':>9} {'ratio':>6} {'false, separate':>16} {'false, pooled':>14} "
          f"{f'power +{effect:g} pp, separate':>24} {'pooled':>8}")
    for sd_pp in sds:
        for ratio in ratios:
            cells = []
            for pooled in (False, True):
                null = race_intervals(ratio, 0.0, sd_pp / 100, pooled, reps, np.random.default_rng(seed))
                gain = race_intervals(ratio, effect / 100, sd_pp / 100, pooled, reps, np.random.default_rng(seed + 1))
                cells.append((null[0], gain[1]))
            (f_sep, p_sep), (f_pool, p_pool) = cells
            print(f"{sd_pp:>7.1f}pp {ratio:>6.2f} {100 * f_sep:>15.2f}% {100 * f_pool:>13.2f}% {100 * p_sep:>23.1f}% "
                  f"{100 * p_pool:>7.1f}%")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sd", type=float, nargs="+", default=[1.5, 2.2, 3.6], help="paired sds, in pp")
    parser.add_argument("--effect", type=float, default=2.0, help="the gain to find, in pp (default 2)")
    parser.add_argument("--types", type=int, default=4, help="penalty types judged (default 4: L1, L2, L1+L2, dropout)")
    parser.add_argument("--points", type=int, default=3,
                        help="candidate λ per type of the 'λ unknown' column (default 3: the race's window points)")
    parser.add_argument("--power", type=float, default=0.8)
    parser.add_argument("--reps", type=int, default=20_000, help="simulated studies per two-stage design (default 20000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pooled", action="store_true",
                        help="measure one variance for the comparisons sharing the baseline against the race's "
                             "separate intervals, instead of the floor")
    parser.add_argument("--ratios", type=float, nargs="+", default=[1.0, 1.3, 1.5],
                        help="with --pooled: one finalist's paired sd over the others' (default 1 1.3 1.5)")
    parser.add_argument("--early", action="store_true",
                        help="the fixed design judges each type twice (last epoch, early stopping), as the race does")
    args = parser.parse_args(argv)
    if args.pooled:
        pooled_table(args.sd, args.ratios, args.effect, args.reps, args.seed)
        return
    hyp = args.types * (2 if args.early else 1)
    print(f"+{args.effect:g} pp with {100 * args.power:.0f}% power, α = {ALPHA} two-sided, {args.types} types, "
          f"each type's best λ known (no bracket, no screening); trials = runs of a full length")
    print(f"{'paired sd':>9} {'oracle':>14} {'2x oracle':>9} {'all types':>22} {'two stages (n1, n2: picked, power)':>36} "
          f"{f'λ unknown, {args.points} per type':>36}")
    for sd_pp in args.sd:
        sd, effect = sd_pp / 100, args.effect / 100
        n_oracle = fewest_pairs(effect, sd, ALPHA, args.power)
        n_all = fewest_pairs(effect, sd, ALPHA / hyp, args.power)
        texts = []
        for arms in (args.types, args.types * args.points):
            two = best_two_stage(arms, effect, sd, ALPHA, args.power, args.reps, args.seed)
            texts.append(f"{two.trials} ({two.n1}, {two.n2}: {100 * two.picked:.0f}%, {100 * two.power:.1f}%)"
                         if two else "-")
        print(f"{sd_pp:>7.1f}pp {f'{2 * n_oracle} ({n_oracle} pairs)':>14} {4 * n_oracle:>9} "
              f"{f'{(args.types + 1) * n_all} ({n_all} seeds, α/{hyp})':>22} {texts[0]:>36} {texts[1]:>36}")


if __name__ == "__main__":
    main()
