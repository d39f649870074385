"""The typed settings object: flags > ``SWEEPER_*`` environment > defaults, resolved once and
passed explicitly (no module globals)."""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper.errors import ConfigError

ENV_PREFIX = "SWEEPER_"


def _default_data_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "sweeper"


@dataclass(frozen=True)
class Settings:
    storage: str = "sqlite:///sweeper.db"
    data_dir: Path = dataclasses.field(default_factory=_default_data_dir)
    # A local folder or URL base holding files named like the official archives.
    data_mirror: str | None = None
    # Heartbeats let a live process find the trial of a killed worker: after `grace_period`
    # seconds without a beat it is failed and re-queued with the same parameters.
    heartbeat_interval: int = 10
    grace_period: int = 40
    # How long a storage call keeps retrying while the database or its pooler is away (a
    # failover, a restart, a node drain) before a worker gives its trial up as lost; a live
    # trial is never reaped for an outage, however long (sweeper.storage.stale).
    storage_retry: float = 600.0
    # How long a worker waits for a study to be launched before giving up.
    wait_for_study: float = 300.0
    debug: bool = False
    # Folders (separated by os.pathsep) where task files and modules are looked up, after the
    # working directory: e.g. /tasks in the compose stack.
    task_path: str = ""
    # CPU threads that the worker processes of one `sweeper worker` command share (each gets
    # threads / processes for TensorFlow's and OpenMP's pools, unless --threads says otherwise):
    # None = the machine's cores. A container's CPU limit is not its machine's cores: the
    # Kubernetes worker pod sets it from its own CPU limit.
    threads: int | None = None

    @classmethod
    def resolve(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from command-line flags (``None`` = not given), then the environment."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        types = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            flag = (flags or {}).get(field.name)
            if flag is not None:
                values[field.name] = _coerce(field.name, types[field.name], flag)
                continue
            env_name = ENV_PREFIX + field.name.upper()
            if environ.get(env_name, "") != "":
                values[field.name] = _coerce(env_name, types[field.name], environ[env_name])
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.heartbeat_interval <= 0:
            raise ConfigError(
                f"heartbeat interval must be > 0 seconds, got {self.heartbeat_interval}: "
                "set SWEEPER_HEARTBEAT_INTERVAL to a positive integer"
            )
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"SWEEPER_THREADS must be at least 1, got {self.threads}: "
                              "set it to the CPU cores the workers may use, or leave it unset for all of them")
        if self.storage_retry <= 0:
            raise ConfigError(
                f"storage retry window must be > 0 seconds, got {self.storage_retry}: "
                "set SWEEPER_STORAGE_RETRY to how long a database outage may last, e.g. 600"
            )
        if self.grace_period <= self.heartbeat_interval:
            raise ConfigError(
                f"grace period ({self.grace_period} s) must exceed the heartbeat interval "
                f"({self.heartbeat_interval} s): raise SWEEPER_GRACE_PERIOD"
            )

    @property
    def task_dirs(self) -> list[Path]:
        return [Path(p).expanduser() for p in self.task_path.split(os.pathsep) if p]

    def to_env(self) -> dict[str, str]:
        """The environment that makes a child process resolve the same settings."""
        env = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "1" if value else "0"
            env[ENV_PREFIX + field.name.upper()] = str(value)
        return env


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    """``raw`` (a flag's value or an environment string) as the field's type, read from its
    annotation (``int``, ``float``, ``bool``, ``Path``, ``str`` or ``X | None``)."""
    kind = next((k for k in typing.get_args(kind) if k is not type(None)), kind)  # X | None -> X
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in ("1", "true", "yes", "on")
        if kind in (int, float):
            return kind(raw)
        if kind is Path:
            return Path(raw).expanduser()
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}: fix the value") from None
    return str(raw)
