from __future__ import annotations

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
