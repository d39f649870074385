"""Offline checks of the compose files: Debian's `docker-compose config -q`, the compose-spec JSON
schema (check-jsonschema's vendored copy), and the deployment rules of issue 5 (no literal
password, dashboard on loopback only, no published database port, GPU reservations optional)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "docker-compose.yml"
GPU = REPO / "docker-compose.gpu.yml"
ENV_EXAMPLE = REPO / ".env.example"
APP_SERVICES = ("launch", "worker", "dashboard", "report")

# docker-compose and check-jsonschema are installed by .ci/run: a missing one fails these tests, never skips them.


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no COMPOSE_*/POSTGRES_* leaking in from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "POSTGRES_", "SWEEPER_", "DOCKER_"))}
    env.update(extra)
    return env


def _compose(tmp_path: Path, *args: str, env_file: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    cmd = ["docker-compose", "--project-directory", str(REPO)]
    # An empty env file stops compose from reading a developer's ./.env.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    cmd += ["--env-file", env_file or str(empty)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=_env(tmp_path, **extra), timeout=60,
                          cwd=REPO)  # COMPOSE_FILE paths are relative to where compose runs


def _config(tmp_path: Path, *files: Path) -> dict[str, Any]:
    args = [a for f in files for a in ("-f", str(f))]
    done = _compose(tmp_path, *args, "config", POSTGRES_USER="sweeper", POSTGRES_PASSWORD="pw-from-test-env")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


@pytest.mark.parametrize("files", [(BASE,), (BASE, GPU)], ids=["cpu", "gpu"])
def test_docker_compose_config_is_valid(tmp_path: Path, files: tuple[Path, ...]) -> None:
    args = [a for f in files for a in ("-f", str(f))]
    done = _compose(tmp_path, *args, "config", "-q", POSTGRES_USER="sweeper", POSTGRES_PASSWORD="pw-from-test-env")
    assert done.returncode == 0, done.stderr


def test_password_is_required(tmp_path: Path) -> None:
    done = _compose(tmp_path, "-f", str(BASE), "config", "-q", POSTGRES_USER="sweeper")
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in done.stderr


def test_env_example_selects_gpu_and_still_requires_a_password(tmp_path: Path) -> None:
    done = _compose(tmp_path, "config", "-q", env_file=str(ENV_EXAMPLE))
    assert "set POSTGRES_PASSWORD in .env" in done.stderr
    filled = tmp_path / "filled.env"
    filled.write_text(ENV_EXAMPLE.read_text().replace("POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=abc123\n"))
    done = _compose(tmp_path, "config", env_file=str(filled))
    assert done.returncode == 0, done.stderr
    worker = yaml.safe_load(done.stdout)["services"]["worker"]
    assert worker["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert worker["build"]["args"]["TF_FLAVOUR"] == "gpu"


def test_compose_spec_schema() -> None:
    done = subprocess.run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(BASE), str(GPU)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_services_follow_the_deployment_rules(tmp_path: Path) -> None:
    services = _config(tmp_path, BASE)["services"]
    assert set(services) == {"postgres", "pgbouncer", *APP_SERVICES}
    assert "ports" not in services["postgres"]
    assert "pg_isready -h 127.0.0.1" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["dashboard"]["ports"] and all(
        str(p).startswith("127.0.0.1:") for p in services["dashboard"]["ports"]
    )
    assert [s for s, spec in services.items() if "ports" in spec] == ["dashboard"]
    for name in APP_SERVICES:
        assert services[name]["pull_policy"] == "build"
        assert services[name]["build"]["args"]["TF_FLAVOUR"] == "cpu"  # the plain file is the CPU path
        assert "deploy" not in services[name]
    worker = services["worker"]
    assert worker["restart"] == "unless-stopped" and worker["init"] is True
    assert worker["depends_on"]["launch"]["condition"] == "service_completed_successfully"
    assert "--gpus all" in worker["command"]
    assert services["launch"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "cifar10 librispeech imdb" in services["launch"]["command"]
    assert services["report"]["profiles"] == ["report"]
    assert any(str(v).endswith(":/reports") or "/reports" in str(v) for v in services["report"]["volumes"])


def test_the_pooler_profile_sends_only_the_workers_through_pgbouncer(tmp_path: Path) -> None:
    """Off by default; with SWEEPER_DB_HOST=pgbouncer the workers' URL names it, and PgBouncer
    runs the one config that deploy/k8s uses, in transaction mode, built here from Debian's
    package (deploy/pgbouncer) whose image runs it as a non-root user."""
    services = _config(tmp_path, BASE)["services"]
    pooler = services["pgbouncer"]
    assert pooler["profiles"] == ["pooler"] and "ports" not in pooler
    assert pooler["build"]["context"].endswith("deploy/pgbouncer") and pooler["pull_policy"] == "build"
    dockerfile = (REPO / "deploy/pgbouncer/Dockerfile").read_text()
    assert "apt-get install -y --no-install-recommends pgbouncer" in dockerfile
    assert "USER 70:70" in dockerfile and "user" not in pooler
    assert pooler["depends_on"]["postgres"]["condition"] == "service_healthy"
    (ini,) = [v for v in pooler["volumes"] if "pgbouncer.ini" in str(v)]
    assert "deploy/k8s/components/pooler/pgbouncer.ini" in str(ini)
    assert "pool_mode = transaction" in (REPO / "deploy/k8s/components/pooler/pgbouncer.ini").read_text()
    assert "@postgres:5432/" in services["worker"]["environment"]["SWEEPER_STORAGE"]
    pooled = _compose(tmp_path, "-f", str(BASE), "config", POSTGRES_USER="sweeper", POSTGRES_PASSWORD="pw-from-test-env",
                      SWEEPER_DB_HOST="pgbouncer", COMPOSE_PROFILES="pooler")
    assert pooled.returncode == 0, pooled.stderr
    services = yaml.safe_load(pooled.stdout)["services"]
    assert "@pgbouncer:5432/" in services["worker"]["environment"]["SWEEPER_STORAGE"]
    for name in ("launch", "dashboard", "report"):
        assert "@postgres:5432/" in services[name]["environment"]["SWEEPER_STORAGE"], name


def test_no_literal_password_in_deployment_files() -> None:
    for path in (BASE, GPU, REPO / "Dockerfile", REPO / ".ci" / "compose-e2e.sh"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not re.search(r"password", line, re.I):
                continue
            # Allowed: a variable reference or a comment/help text; never `PASSWORD: value`/`=value`.
            bare = re.sub(r"\$\{[^}]*\}", "VAR", line)  # variable references are fine
            assignment = re.search(r"PASSWORD\s*[:=]\s*([^\s#]+)", bare)
            if assignment and not line.lstrip().startswith("#"):
                value = assignment.group(1)
                assert value.startswith(("VAR", "$", '"$')), f"{path.name}:{number}: literal password {line!r}"
    values = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    )
    assert values["POSTGRES_PASSWORD"] == ""  # a placeholder the user must fill in


def test_env_example_documents_every_variable() -> None:
    used = set()
    for path in (BASE, GPU):
        used |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", path.read_text()))
    documented = set(re.findall(r"^#?\s?([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    assert used - documented == set()
