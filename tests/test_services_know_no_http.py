"""Services and selectors speak the domain: no HTTP, no REST framework, no API glue.

They raise ``citysafety.errors``; each edge (API, pages, MQTT bridge) makes
its own answer. Read from the source, so a function-level import counts too.
"""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

FORBIDDEN = ("rest_framework", "django.http", "citysafety.api")


def domain_modules() -> list[Path]:
    """Every ``services`` and ``selectors`` module or package of the project's own apps."""
    root = Path(settings.BASE_DIR)
    found = []
    for config in apps.get_app_configs():
        app = Path(config.path)
        if not app.is_relative_to(root) or ".venv" in app.parts:
            continue
        for name in ("services", "selectors"):
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


@pytest.mark.parametrize("module", domain_modules(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_service_or_selector_imports_nothing_of_http(module):
    assert [name for name in imported_modules(module) if is_forbidden(name)] == []


def test_the_check_sees_an_import_of_http_inside_a_function(tmp_path):
    source = tmp_path / "services.py"
    source.write_text("def f():\n    from django.http import Http404\n    import rest_framework.exceptions\n")
    assert [name for name in imported_modules(source) if is_forbidden(name)] == [
        "django.http",
        "django.http.Http404",
        "rest_framework.exceptions",
    ]
