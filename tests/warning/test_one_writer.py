"""A warning's status and level are written in ``warning/transitions.py`` alone.

Read from the source of every app: an assignment to ``.status`` or
``.level`` of anything that may be a warning, a ``Warning`` created or
updated with a status or level, or raw SQL that sets them, anywhere else
fails here. Names known to hold something else (a work order, a delivery)
are listed with what they hold; a new name must be looked at, and added
there or moved to the writer.
"""

import ast
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("citysafety", "organisation", "notifications", "monitoring", "warning", "dispatch", "dashboard", "reports")
APPS += ("demo", "bench")
WRITER = Path("warning/transitions.py")
STATE = {"status", "level"}

# Objects with a status or level of their own, by the name the code gives them.
NOT_WARNINGS = {
    "order": "a work order (dispatch)",
    "delivery": "a notification's delivery",
    "outage": "a gateway outage",
    "current": "an episode being replayed (warning.history)",
    "outcome": "an HTTP outcome (bench)",
}
# Functions allowed to set a warning's level and status, with the reason.
ALLOWED = {
    ("dispatch/services.py", "_routed_as"): (
        "routes an incident's primary as the event stands: on the instance in memory only, restored"
        " in its finally clause and never saved"
    ),
}
_SQL = re.compile(r"UPDATE\s+warning_warning\b.*\bSET\b.*\b(status|level)\b", re.IGNORECASE | re.DOTALL)


def _root_name(node: ast.AST) -> str:
    """The name a chain such as ``Warning.objects.filter(...).update`` starts from."""
    while True:
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return node.id if isinstance(node, ast.Name) else ""


class _Writes(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.function: list[str] = []
        self.found: list[str] = []

    def _report(self, node: ast.AST, what: str) -> None:
        if (self.path, self.function[-1] if self.function else "") not in ALLOWED:
            self.found.append(f"{self.path}:{node.lineno}: {what}")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.function.append(node.name)
        self.generic_visit(node)
        self.function.pop()

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.function.append(node.name)
        self.generic_visit(node)
        self.function.pop()

    def _targets(self, node: ast.AST, targets: list[ast.expr]) -> None:
        for target in targets:
            for element in target.elts if isinstance(target, ast.Tuple | ast.List) else [target]:
                if (
                    isinstance(element, ast.Attribute)
                    and element.attr in STATE
                    and _root_name(element.value) not in NOT_WARNINGS
                ):
                    self._report(node, ast.unparse(element) + " assigned")

    def visit_Assign(self, node: ast.Assign) -> None:
        self._targets(node, node.targets)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._targets(node, [node.target])
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._targets(node, [node.target])
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in {"update", "create", "update_or_create", "get_or_create"}:
            keywords = {keyword.arg for keyword in node.keywords}
            root = _root_name(func.value)
            if keywords & STATE and (root == "Warning" or "warning" in root.lower()):
                self._report(node, f"{ast.unparse(func)}({', '.join(sorted(keywords & STATE))}=…)")
        if isinstance(func, ast.Attribute) and func.attr == "bulk_update" and _root_name(func.value) == "Warning":
            fields = node.args[1] if len(node.args) > 1 else None
            if fields is not None and STATE & {getattr(e, "value", None) for e in getattr(fields, "elts", [])}:
                self._report(node, "Warning.objects.bulk_update of status or level")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _SQL.search(node.value):
            self._report(node, "raw SQL setting a warning's status or level")


def writes_outside_the_writer(root: Path) -> list[str]:
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts or relative == WRITER:
                continue
            visitor = _Writes(relative.as_posix())
            visitor.visit(ast.parse(path.read_text(), filename=str(path)))
            found += visitor.found
    return found


def test_only_transitions_writes_a_warnings_status_or_level():
    assert writes_outside_the_writer(ROOT) == []


def test_no_module_reaches_for_a_private_helper_of_the_warning_services():
    listed = subprocess.run(
        ["git", "grep", "-n", r"services\._", "--", ":!warning/services.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode in (0, 1), listed.stderr
    assert listed.stdout == ""


@pytest.mark.parametrize(
    "source",
    [
        "def f(warning):\n    warning.status = 'closed'\n",
        "def f(primary, level):\n    primary.level, primary.recovered_at = level, None\n",
        "def f():\n    Warning.objects.filter(pk=1).update(status='closed')\n",
        "def f(open_warnings):\n    open_warnings.update(level=1)\n",
        "def f(s):\n    Warning.objects.create(sensor=s, level=1, status='active')\n",
        "SQL = 'UPDATE warning_warning SET status = %s WHERE id = %s'\n",
    ],
)
def test_the_check_sees_each_way_of_writing_a_warnings_state(tmp_path, source):
    (tmp_path / "warning").mkdir()
    (tmp_path / "warning" / "elsewhere.py").write_text(source)
    assert len(writes_outside_the_writer(tmp_path)) == 1


def test_the_check_lets_a_work_orders_status_be(tmp_path):
    (tmp_path / "dispatch").mkdir()
    (tmp_path / "dispatch" / "services.py").write_text("def f(order):\n    order.status = 'closed'\n")
    assert writes_outside_the_writer(tmp_path) == []
