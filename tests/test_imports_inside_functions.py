"""An import inside a function says why it is there.

It usually hides a cycle (STYLE.md, "Inside an app"): where one must stay,
a comment on the import, or right above its block of imports, names it
(and pyproject.toml's contracts list it). The bench is left out: its
scripts configure Django, on a database of their own, before importing any
of it, so their imports wait inside functions for that, not for a cycle.
"""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("citysafety", "organisation", "notifications", "monitoring", "warning", "dispatch", "dashboard", "reports")
APPS += ("demo",)


def unexplained_imports(root: Path) -> list[str]:
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            lines = source.splitlines()
            for function in ast.walk(ast.parse(source, filename=str(path))):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(function):
                    if isinstance(node, ast.Import | ast.ImportFrom) and not _explained(lines, node.lineno):
                        found.append(
                            f"{path.relative_to(root).as_posix()}:{node.lineno}: {lines[node.lineno - 1].strip()}"
                        )
    return found


def _explained(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or above the block of imports it is in."""
    if "#" in lines[lineno - 1]:
        return True
    above = lineno - 2
    while above >= 0 and (lines[above].strip().startswith(("from ", "import ")) or not lines[above].strip()):
        above -= 1
    return above >= 0 and lines[above].strip().startswith("#")


def test_every_import_inside_a_function_says_why():
    assert unexplained_imports(ROOT) == []


def test_the_check_sees_an_import_with_no_reason(tmp_path):
    (tmp_path / "warning").mkdir()
    (tmp_path / "warning" / "thing.py").write_text(
        "def f():\n    from warning import services\n\n\n"
        "def g():\n    # services import this module\n    from warning import services\n    import json\n\n\n"
        "def h():\n    from warning import tasks  # tasks import this module\n"
    )
    assert unexplained_imports(tmp_path) == ["warning/thing.py:2: from warning import services"]
