"""The deployment artefacts hold together: compose file, production settings, scripts.

Everything runs as a subprocess, the way an operator runs it; no database is
needed. `make test` installs docker-compose, so its absence is a failure, not
a skip.
"""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Variables the settings read that a developer's shell might carry and that
# would change what these tests check.
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "INGEST_MAX_BATCH",
    "INGEST_MAX_FUTURE_SECONDS",
}
COMPOSE_VARIABLES = {"SECRET_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS"}


def clean_environment(**values: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES | COMPOSE_VARIABLES}
    environment.update(values)
    return environment


def run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def manage(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "manage.py", *arguments], clean_environment(**environment))


# --- docker-compose.yml -----------------------------------------------------


@pytest.fixture
def docker_compose(tmp_path: Path):
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed: `make test` installs Debian's docker-compose package"
    # An empty env file, so a developer's .env beside the compose file does not
    # take part.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")

    def compose(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
        command = [binary, "--env-file", str(env_file), "-f", "docker-compose.yml", *arguments]
        return run(command, clean_environment(**environment))

    return compose


PRODUCTION_VALUES = {
    "SECRET_KEY": secrets.token_urlsafe(64),
    "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
    "ALLOWED_HOSTS": "city.example.org",
}


def test_the_compose_file_validates(docker_compose):
    result = docker_compose("config", "-q", **PRODUCTION_VALUES)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_compose_file_runs_the_whole_platform(docker_compose):
    result = docker_compose("config", "--services", **PRODUCTION_VALUES)

    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) >= {"postgis", "redis", "mosquitto", "web", "worker", "beat"}


@pytest.mark.parametrize("missing", sorted(COMPOSE_VARIABLES))
def test_the_compose_file_refuses_to_run_without_a_required_value(docker_compose, missing):
    values = {k: v for k, v in PRODUCTION_VALUES.items() if k != missing}

    result = docker_compose("config", "-q", **values)

    assert result.returncode != 0
    assert missing in result.stderr


# --- Production settings ----------------------------------------------------


def test_production_settings_pass_the_deployment_checks():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="city.example.org",
    )
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "ERRORS" not in output


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = manage("check", DEBUG="0", ALLOWED_HOSTS="city.example.org")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("INGEST_MAX_BATCH", "lots"),
        ("INGEST_MAX_FUTURE_SECONDS", "5min"),
        ("MQTT_SHARE_GROUP", "bridges/east"),
        ("MQTT_SESSION_EXPIRY_SECONDS", "1day"),
        ("MQTT_SESSION_EXPIRY_SECONDS", "0"),
    ],
)
def test_a_malformed_setting_stops_the_process_and_names_itself(variable, value):
    # A secret key is given, so the only thing wrong is the malformed value.
    result = manage("check", SECRET_KEY=secrets.token_urlsafe(64), **{variable: value})

    assert result.returncode != 0, f"{variable}={value} was accepted"
    assert variable in result.stderr
    assert value in result.stderr


# --- Scripts ------------------------------------------------------------------

SCRIPTS = sorted([*ROOT.glob("scripts/*.sh"), ROOT / ".ci" / "run"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_shell_scripts_parse(script):
    result = run(["bash", "-n", str(script)], clean_environment())

    assert result.returncode == 0, result.stderr


def test_ci_runs_the_same_command_as_a_developer():
    text = (ROOT / ".ci" / "run").read_text()

    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "make test" in text
