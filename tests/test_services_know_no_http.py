"""Services and selectors speak the domain: no HTTP, no REST framework, no API glue.

They raise ``citysafety.errors``; each edge (API, pages, MQTT bridge) makes
its own answer. Nor do they borrow an app's API package (its serializers) for
the shape of a push: the payloads and pushes modules build it, free of DRF,
and are held to the same line. Read from the source, so a function-level
import counts too.
"""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

DOMAIN_ROOMS = ("services", "selectors", "payloads", "pushes")


def project_apps() -> list[Path]:
    root = Path(settings.BASE_DIR)
    found = [root / "citysafety"]
    for config in apps.get_app_configs():
        app = Path(config.path)
        if app.is_relative_to(root) and ".venv" not in app.parts and app not in found:
            found.append(app)
    return found


def api_packages() -> tuple[str, ...]:
    """Every app's ``api`` module or package (``citysafety.api`` is the API's glue)."""
    return tuple(f"{app.name}.api" for app in project_apps() if (app / "api.py").exists() or (app / "api").is_dir())


FORBIDDEN = ("rest_framework", "django.http", *api_packages())


def domain_modules() -> list[Path]:
    """Every ``services``, ``selectors``, ``payloads`` and ``pushes`` module or package of the project's own apps."""
    found = []
    for app in project_apps():
        for name in DOMAIN_ROOMS:
            found += [app / f"{name}.py"] if (app / f"{name}.py").exists() else []
            found += sorted((app / name).rglob("*.py")) if (app / name).is_dir() else []
    return found


def imported_modules(source: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def is_forbidden(name: str) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in FORBIDDEN)


def test_the_services_and_selectors_of_every_app_are_checked():
    apps_with_services = {path.parent.name for path in domain_modules() if path.name == "services.py"}
    assert {"monitoring", "warning", "dispatch"} <= apps_with_services
    assert {"warning", "dispatch"} <= {path.parent.name for path in domain_modules() if path.name == "payloads.py"}


def test_every_apps_api_package_is_forbidden():
    assert {"citysafety.api", "warning.api", "dispatch.api", "monitoring.api", "notifications.api"} <= set(FORBIDDEN)


@pytest.mark.parametrize(
    "module", domain_modules(), ids=lambda path: f"{path.relative_to(settings.BASE_DIR).as_posix()}"
)
def test_a_service_or_selector_imports_nothing_of_http(module):
    assert [name for name in imported_modules(module) if is_forbidden(name)] == []


def test_the_check_sees_an_import_of_http_inside_a_function(tmp_path):
    source = tmp_path / "services.py"
    source.write_text(
        "def f():\n    from django.http import Http404\n    import rest_framework.exceptions\n"
        "    from warning.api.serializers import WarningSummarySerializer\n"
    )
    assert [name for name in imported_modules(source) if is_forbidden(name)] == [
        "django.http",
        "django.http.Http404",
        "rest_framework.exceptions",
        "warning.api.serializers",
        "warning.api.serializers.WarningSummarySerializer",
    ]
