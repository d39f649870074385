"""Workers: the loop that takes trials from the launched studies (``loop``), which study it serves
next (``schedule``), what it knows of each (``studies``), its signals, exit codes and failure
streak (``lifecycle``), one trial's execution (``trial``), the process set-up (``backend``,
``collector``, ``data_cache``), and the supervisor of one worker per GPU slot (``supervisor``,
``gpus``).

Nothing is imported here: ``sweeper --help`` and ``collector`` must not pull in Optuna."""
