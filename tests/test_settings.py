from __future__ import annotations

import os
from pathlib import Path

import pytest

from sweeper.errors import ConfigError
from sweeper.settings import Settings


def test_defaults_are_embedded_sqlite_and_user_cache() -> None:
    settings = Settings.resolve({}, environ={})
    assert settings.storage == "sqlite:///sweeper.db"
    assert settings.data_mirror is None
    assert settings.data_dir.parts[-2:] == (".cache", "sweeper")


def test_flags_beat_environment_which_beats_defaults() -> None:
    env = {"SWEEPER_STORAGE": "sqlite:///env.db", "SWEEPER_DATA_MIRROR": "/mirror", "SWEEPER_GRACE_PERIOD": "90"}
    settings = Settings.resolve({"storage": "sqlite:///flag.db", "data_mirror": None}, environ=env)
    assert settings.storage == "sqlite:///flag.db"
    assert settings.data_mirror == "/mirror"
    assert settings.grace_period == 90


def test_environment_round_trips_to_child_processes(tmp_path: Path) -> None:
    settings = Settings.resolve({"data_dir": str(tmp_path), "debug": True}, environ={})
    assert Settings.resolve({}, environ=settings.to_env()) == settings


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="SWEEPER_HEARTBEAT_INTERVAL"):
        Settings.resolve({}, environ={"SWEEPER_HEARTBEAT_INTERVAL": "often"})


def test_grace_period_must_exceed_heartbeat_interval() -> None:
    with pytest.raises(ConfigError, match="grace period"):
        Settings.resolve({}, environ={"SWEEPER_HEARTBEAT_INTERVAL": "30", "SWEEPER_GRACE_PERIOD": "10"})


def test_each_field_is_coerced_by_its_annotation() -> None:
    from pathlib import Path

    from sweeper.settings import Settings

    s = Settings.resolve({}, {"SWEEPER_HEARTBEAT_INTERVAL": "5", "SWEEPER_GRACE_PERIOD": "20", "SWEEPER_DEBUG": "yes",
                              "SWEEPER_WAIT_FOR_STUDY": "1.5", "SWEEPER_DATA_MIRROR": "/m", "SWEEPER_DATA_DIR": "~/d"})
    assert (s.heartbeat_interval, s.grace_period, s.debug, s.wait_for_study) == (5, 20, True, 1.5)
    assert s.data_mirror == "/m" and s.data_dir == Path("~/d").expanduser()
    assert Settings.resolve({"debug": False}, {"SWEEPER_DEBUG": "1"}).debug is False  # the flag wins
    with pytest.raises(ConfigError, match=r"SWEEPER_WAIT_FOR_STUDY='soon' is not a valid float: fix the value"):
        Settings.resolve({}, {"SWEEPER_WAIT_FOR_STUDY": "soon"})


def test_threads_come_from_the_environment_and_reach_child_processes() -> None:
    settings = Settings.resolve({}, environ={"SWEEPER_THREADS": "12"})
    assert settings.threads == 12
    assert settings.to_env()["SWEEPER_THREADS"] == "12"
    assert Settings.resolve({}, environ={}).threads is None  # the machine's cores


@pytest.mark.parametrize("value", ["0", "-2"])
def test_threads_below_one_are_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="SWEEPER_THREADS must be at least 1"):
        Settings.resolve({}, environ={"SWEEPER_THREADS": value})


def test_the_debug_switch_is_read_from_settings_only() -> None:
    """Issue 27: SWEEPER_DEBUG was read from the environment in four modules, twice at import time
    (so a Settings(debug=True) passed in, or a flag, did not reach them). Only settings.py reads it;
    the CLI writes it for the processes it starts."""
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "sweeper"
    readers = [str(p.relative_to(package)) for p in package.rglob("*.py")
               if re.search(r"environ(\.get\(|\[)\s*[\"']SWEEPER_DEBUG[\"']\s*(,|\))", p.read_text())]
    assert readers == []


def test_importing_storage_and_worker_leaves_optunas_logging_alone_until_settings_say(tmp_path) -> None:
    import subprocess
    import sys

    code = ("import optuna; before = optuna.logging.get_verbosity(); import sweeper.storage.engine, sweeper.worker.loop; "
            "from sweeper.settings import Settings; from sweeper.worker.loop import Worker; "
            "after = optuna.logging.get_verbosity(); Worker(Settings(debug=True)); debug = optuna.logging.get_verbosity(); "
            "Worker(Settings()); print(before == after, debug == optuna.logging.WARNING, optuna.logging.get_verbosity() == optuna.logging.ERROR)")
    env = {k: v for k, v in os.environ.items() if k != "SWEEPER_DEBUG"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.split() == ["True", "True", "True"]
