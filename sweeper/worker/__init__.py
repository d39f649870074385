"""Workers: the loop that takes trials from the launched studies (``loop``), one trial's
execution (``trial``), the process set-up (``backend``,
``collector``), and the supervisor of one worker per GPU slot (``supervisor``, ``gpus``).

Nothing is imported here: ``sweeper --help`` and ``collector`` must not pull in Optuna."""
