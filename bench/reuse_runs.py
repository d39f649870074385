"""Re-race a case study under the current race rules, reusing the runs an earlier race of the
same task, command and seeds already trained (training is deterministic per seed on a CPU with
the same task fingerprint and the same threads per worker, that is the same ``--workers`` on the
same machine: 1 worker and 2 give other scores for a seed, docs/findings.md; one run, CHECK, is
left to real workers so that its score can be compared). Copies each reusable planned run into the new study (marked ``reused_from``), advances
the race (as a relaunch does), and repeats until the queue holds only runs the earlier race never
made; real workers (``sweeper run`` with the same command) do the rest. docs/findings.md used it
for issue 30's re-races.

    python bench/reuse_runs.py OLD.db NEW.db TASK GROUP:REPEAT -- LAUNCH-OPTIONS...
    e.g. python bench/reuse_runs.py race/cifar10.db new/cifar10.db cifar10 baseline:117 \
             --design adaptive --train-size 2000 --epochs 20
"""
import subprocess, sys, os
import optuna
from optuna.trial import TrialState
from sweeper.study.adaptive import x_of
from sweeper.storage.attrs import REPEAT

optuna.logging.set_verbosity(optuna.logging.WARNING)
old_db, new_db, task, check = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
launch_cmd = [a for a in sys.argv[5:] if a != "--"]
old = optuna.load_study(study_name=task, storage=f"sqlite:///{old_db}")
by_key = {}
for t in old.trials:
    if t.state == TrialState.COMPLETE and REPEAT in t.user_attrs:
        by_key[(x_of(t.params), int(t.user_attrs[REPEAT]))] = t
check_group, check_repeat = check.split(":")
check_key = ((check_group, 0.0), int(check_repeat))
env = {**os.environ, "SWEEPER_STORAGE": f"sqlite:///{new_db}"}
reused = 0
while True:
    subprocess.run(["sweeper", "launch", task, *launch_cmd], env=env, check=True, stdout=subprocess.DEVNULL)
    storage = optuna.storages.RDBStorage(f"sqlite:///{new_db}")
    study = optuna.load_study(study_name=task, storage=storage)
    copied = 0
    for t in study.get_trials(states=(TrialState.WAITING,)):
        key = (x_of(t.system_attrs["fixed_params"]), int(t.user_attrs[REPEAT]))
        src = by_key.get(key)
        if src is None or key == check_key:
            continue
        tid = t._trial_id
        if not storage.set_trial_state_values(tid, TrialState.RUNNING):
            continue
        for name, value in src.params.items():
            dist = src.distributions[name]
            storage.set_trial_param(tid, name, dist.to_internal_repr(value), dist)
        for k, v in src.user_attrs.items():
            storage.set_trial_user_attr(tid, k, v)
        for step, v in src.intermediate_values.items():
            storage.set_trial_intermediate_value(tid, step, v)
        storage.set_trial_user_attr(tid, "reused_from", f"{old_db}#{src.number}")
        storage.set_trial_state_values(tid, TrialState.COMPLETE, [src.value])
        copied += 1
    reused += copied
    storage.engine.dispose()
    if not copied:
        break
left = len(optuna.load_study(study_name=task, storage=f"sqlite:///{new_db}").get_trials(states=(TrialState.WAITING,)))
print(f"reused {reused} runs of {old_db}; {left} queued for real workers")
