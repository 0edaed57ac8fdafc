"""The layers hold: imports (import-linter) and models named by string."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent


def _layers() -> list[set[str]]:
    """The layers contract of pyproject.toml, lowest first, as sets of app names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["id"] == "layers"]
    return [{name.strip() for name in layer.split("|")} for layer in reversed(contract["layers"])]


def test_import_linter_contracts_are_kept():
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_layers_put_organisation_beneath_monitoring_and_dispatch_on_top_of_warning():
    order = [next(iter(layer)) if len(layer) == 1 else tuple(sorted(layer)) for layer in _layers()]
    assert order == [
        "citysafety",
        "organisation",
        "notifications",
        "monitoring",
        "warning",
        "dispatch",
        "surroundings",
        ("audit", "dashboard", "demo", "reports"),
        "bench",
    ]


def _upward_relations(model, rank: dict[str, int]) -> list[str]:
    """The model's relations to models of apps in a higher layer."""
    own = rank[model._meta.app_label]
    return [
        f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}"
        for field in model._meta.get_fields()
        if field.is_relation
        and field.concrete
        and field.related_model is not None
        and rank.get(field.related_model._meta.app_label, -1) > own
    ]


LAYERED_MODELS = [
    m
    for m in apps.get_models()
    if m._meta.app_label in {"organisation", "notifications", "monitoring", "warning", "dispatch"}
]


@pytest.mark.parametrize("model", LAYERED_MODELS, ids=lambda m: m._meta.label)
def test_no_model_points_at_a_model_of_an_app_above_it(model):
    rank = {app: index for index, layer in enumerate(_layers()) for app in layer}
    assert _upward_relations(model, rank) == []


def test_a_relation_pointing_upwards_is_seen():
    from dispatch.models import WorkOrder

    # Were dispatch beneath organisation, its work order's department would point upwards.
    rank = {"dispatch": 0, "organisation": 1, "warning": 2}
    assert "dispatch.WorkOrder.department -> organisation.Department" in _upward_relations(WorkOrder, rank)
