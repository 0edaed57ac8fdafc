"""The deployment artefacts hold together: compose file, production settings, scripts.

Everything runs as a subprocess, the way an operator runs it; no database is
needed. `make test` installs docker-compose, so its absence is a failure, not
a skip.
"""

import ast
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    "HTTPS_ONLY",
    "DB_CONN_MAX_AGE",
    "WEB_CONCURRENCY",
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
    assert set(result.stdout.split()) >= {"postgis", "redis", "mosquitto", "web", "api", "worker", "beat"}


@pytest.fixture
def compose_services(docker_compose) -> dict:
    result = docker_compose("config", **PRODUCTION_VALUES)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_the_compose_file_serves_the_gateway_api_from_gunicorn_beside_daphne(compose_services):
    api, web = compose_services["api"], compose_services["web"]

    assert api["command"][0] == "gunicorn"
    assert api["command"][-1] == "citysafety.wsgi:application"
    assert "gunicorn.conf.py" in api["command"]
    assert api["environment"]["WEB_CONCURRENCY"] == "3"
    assert web["command"][0] == "daphne"
    assert web["command"][-1] == "citysafety.asgi:application"
    # Each on its own port, for the reverse proxy to route to.
    assert "0.0.0.0:8001" in api["command"]
    assert api["ports"] == ["127.0.0.1:8001:8001/tcp"]
    assert web["ports"] == ["127.0.0.1:8000:8000/tcp"]


def test_the_compose_file_keeps_database_connections_only_outside_asgi(compose_services):
    assert compose_services["api"]["environment"]["DB_CONN_MAX_AGE"] == "60"
    assert compose_services["worker"]["environment"]["DB_CONN_MAX_AGE"] == "60"
    assert "DB_CONN_MAX_AGE" not in compose_services["web"]["environment"]
    # The shared settings still reach the services that add their own.
    assert compose_services["api"]["environment"]["SECRET_KEY"] == PRODUCTION_VALUES["SECRET_KEY"]
    assert compose_services["worker"]["environment"]["DEBUG"] == "0"


SCALE_SERVICES = {
    "web-2",
    "api-2",
    "worker-2",
    "mqtt-bridge-2",
    "citus-coordinator",
    "citus-worker-1",
    "citus-worker-2",
    "citus-setup",
}


def test_the_scale_layout_is_a_profile_the_default_layout_leaves_out(compose_services):
    # docker-compose lists every service; those with a profile start only
    # when it is asked for.
    in_profiles = {name: service.get("profiles") for name, service in compose_services.items()}

    assert {name for name, profiles in in_profiles.items() if profiles} == SCALE_SERVICES
    assert all(in_profiles[name] == ["scale"] for name in SCALE_SERVICES)
    assert {"postgis", "web", "api", "worker", "beat", "mqtt-bridge"} <= {
        name for name, profiles in in_profiles.items() if not profiles
    }


@pytest.fixture
def scale_services(docker_compose) -> dict:
    result = docker_compose("--profile", "scale", "config", **PRODUCTION_VALUES, DATABASE_HOST="citus-coordinator")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return yaml.safe_load(result.stdout)["services"]


def test_the_scale_layout_points_every_process_at_the_citus_coordinator(scale_services):
    password = PRODUCTION_VALUES["POSTGRES_PASSWORD"]
    for name in ("migrate", "web", "web-2", "api", "api-2", "worker", "worker-2", "beat", "mqtt-bridge-2"):
        assert scale_services[name]["environment"]["DATABASE_URL"] == (
            f"postgis://citysafety:{password}@citus-coordinator:5432/citysafety"
        ), name


def test_the_default_layout_keeps_its_single_database(compose_services):
    assert "@postgis:5432/" in compose_services["web"]["environment"]["DATABASE_URL"]


def test_the_scale_layout_has_one_beat_and_bridges_with_their_own_client_ids(scale_services):
    beats = [name for name, service in scale_services.items() if "beat" in service.get("command", [])]
    assert beats == ["beat"]
    bridge, second = scale_services["mqtt-bridge"]["command"], scale_services["mqtt-bridge-2"]["command"]
    assert "mqtt_bridge" in bridge
    assert "mqtt_bridge" in second
    # The default client id for the first, its own for the second: the broker
    # keeps each bridge's session under its id.
    assert "--client-id" not in bridge
    assert second[second.index("--client-id") + 1] not in ("", "citysafety-bridge")


def test_the_citus_nodes_are_built_from_citus_with_postgis_and_partman(scale_services):
    dockerfile = (ROOT / "deploy" / "citus" / "Dockerfile").read_text()
    assert "\nFROM citusdata/citus:" in dockerfile
    assert "postgis-3" in dockerfile
    assert "partman" in dockerfile
    for name in ("citus-coordinator", "citus-worker-1", "citus-worker-2"):
        assert scale_services[name]["image"] == "citysafety-citus:latest"
        assert scale_services[name]["build"]["context"].endswith("deploy/citus")
        assert "ports" not in scale_services[name], f"{name} must not be published"
    setup = scale_services["citus-setup"]
    assert setup["command"][-3:] == ["citus-coordinator", "citus-worker-1", "citus-worker-2"]
    assert set(setup["depends_on"]) == {"citus-coordinator", "citus-worker-1", "citus-worker-2"}


def test_the_migrations_wait_for_the_citus_workers_before_they_distribute(scale_services):
    command = " ".join(scale_services["migrate"]["command"])
    assert command.index("wait_for_database") < command.index("migrate --noinput")
    assert "--citus-workers 2" in command


def test_the_citus_setup_script_parses():
    result = subprocess.run(["bash", "-n", str(ROOT / "deploy" / "citus" / "citus-setup.sh")], capture_output=True)
    assert result.returncode == 0, result.stderr


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


def setting_values(*names: str, **environment: str) -> dict[str, object]:
    """The named settings as Django computes them from this environment."""
    code = f"from django.conf import settings; print(repr({{n: getattr(settings, n, None) for n in {names!r}}}))"
    result = manage("shell", "-v", "0", "-c", code, **environment)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip())


def test_plain_http_without_debug_neither_redirects_to_tls_nor_hides_the_cookies():
    values = setting_values(
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
        DEBUG="0",
        HTTPS_ONLY="0",
        SECRET_KEY=secrets.token_urlsafe(64),
    )

    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_production_settings_are_https_only_by_default():
    values = setting_values(
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
    )

    assert values == {"SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True}


def test_plain_http_is_no_production_setting():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        HTTPS_ONLY="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="city.example.org",
    )

    assert result.returncode != 0
    assert "security.W008" in result.stderr  # SECURE_SSL_REDIRECT
    assert "security.W012" in result.stderr  # SESSION_COOKIE_SECURE


# --- Database connections ---------------------------------------------------


def conn_max_age_under(entry_point: str, **environment: str) -> object:
    code = (
        f"import {entry_point}; from django.db import connection; "
        "print(connection.settings_dict['CONN_MAX_AGE'], connection.settings_dict['CONN_HEALTH_CHECKS'])"
    )
    result = run([sys.executable, "-c", code], clean_environment(**environment))
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_wsgi_process_keeps_its_database_connection_when_told_to():
    assert conn_max_age_under("citysafety.wsgi", DB_CONN_MAX_AGE="60") == ["60", "True"]
    assert conn_max_age_under("citysafety.wsgi") == ["0", "True"]


def test_daphne_never_keeps_a_database_connection_whatever_the_environment_says():
    # Under ASGI each request's thread ends with it: a kept connection would leak.
    assert conn_max_age_under("citysafety.asgi", DB_CONN_MAX_AGE="60") == ["0", "True"]


# --- gunicorn -------------------------------------------------------------------


def gunicorn_config(**environment: str) -> dict[str, str]:
    result = run(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "gunicorn.conf.py",
            "--print-config",
            "citysafety.wsgi",
        ],
        clean_environment(**environment),
    )
    assert result.returncode == 0, result.stderr
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def test_gunicorn_runs_three_sync_workers_that_stop_within_make_runs_grace():
    config = gunicorn_config()

    assert (config["workers"], config["worker_class"]) == ("3", "sync")
    assert int(config["graceful_timeout"]) < 20  # STOP_TIMEOUT in scripts/run.sh
    # One control socket per user would be shared by every gunicorn on the machine.
    assert config["control_socket_disable"] == "True"


def test_web_concurrency_sets_the_number_of_gunicorn_workers():
    assert gunicorn_config(WEB_CONCURRENCY="5")["workers"] == "5"


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


def test_the_compose_health_checks_ask_the_platforms_own_probes_and_heartbeats(compose_services):
    def check(service: str) -> str:
        return " ".join(compose_services[service]["healthcheck"]["test"])

    assert "http://127.0.0.1:8000/healthz" in check("web")
    assert "http://127.0.0.1:8001/healthz" in check("api")
    assert "check_heartbeat worker --name celery@$$HOSTNAME" in check("worker")
    assert "check_heartbeat beat --name beat@$$HOSTNAME" in check("beat")
    assert "check_heartbeat mqtt_bridge --name citysafety-bridge" in check("mqtt-bridge")
    # ("$$" is the compose file's escape: the container's shell reads $HOSTNAME.)
    # JSON log lines for the log collector; metrics closed until configured.
    environment = compose_services["web"]["environment"]
    assert environment["LOG_FORMAT"] == "json"
    assert environment["METRICS_TOKEN"] == ""


# --- Front-end packages ---------------------------------------------------------


def _vendor_files() -> list[str]:
    """VENDOR_FILES as scripts/lib.sh lists them, read by bash itself."""
    result = run(["bash", "-c", 'source scripts/lib.sh && printf "%s\\n" "${VENDOR_FILES[@]}"'], clean_environment())
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_front_end_packages_are_pinned_exactly_and_locked():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())

    assert set(package["dependencies"]) == {"echarts", "hls.js"}
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is a range, not an exact version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert lock["packages"][""]["dependencies"] == package["dependencies"]


def test_the_image_vendors_the_same_files_as_the_set_up():
    files = _vendor_files()
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "echarts/dist/echarts.min.js" in files
    assert "hls.js/dist/hls.min.js" in files
    for file in files:
        assert file in dockerfile, f"the Dockerfile does not copy {file}"
    assert "npm ci" in dockerfile
    assert "COPY --from=vendor /build/vendor static/vendor/" in dockerfile


def test_the_pages_load_only_vendored_files_the_set_up_copies():
    vendored = set(_vendor_files())
    loaded = set()
    for template in ROOT.glob("templates/**/*.html"):
        loaded.update(re.findall(r"""static ['"]vendor/([^'"]+)['"]""", template.read_text()))

    assert loaded, "no page loads a vendored file"
    assert loaded <= vendored


def test_collectstatic_without_debug_takes_the_vendored_files(tmp_path):
    """make run and the image collect with DEBUG off, into WhiteNoise's manifest:
    a vendored file naming a missing source map failed the whole collection."""
    files = _vendor_files()
    missing = [file for file in files if not (ROOT / "static" / "vendor" / file).is_file()]
    assert not missing, f"static/vendor/ lacks {missing}: run `make setup` (scripts/lib.sh ensure_vendor)"

    result = manage(
        "collectstatic",
        "--noinput",
        "-v",
        "0",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        STATIC_ROOT=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for file in files:
        if file.endswith(".js"):
            assert f"vendor/{file}" in manifest
