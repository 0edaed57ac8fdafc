"""Levels, statuses and kinds: the Python choices are their one source.

Every page gets each value's label in the reader's language (and its colour)
through its JSON config; the JavaScript keeps no copy.
"""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from citysafety import choices as palette
from citysafety.choices import ChoiceSet, Colour
from dispatch.models import WorkOrderEventKind, WorkOrderStatus
from monitoring.models import SensorStatus
from warning.api.serializers import WarningSummarySerializer
from warning.models import Direction, Level, TransitionKind, Warning, WarningStatus

JS = Path(__file__).resolve().parent.parent / "static" / "js"

# What each page shows, so what its config must carry: the work-order cards
# on both pages, the map, the warning detail and its history on the dashboard.
WORK_ORDER_CARDS = {
    "level": Level,
    "warningStatus": WarningStatus,
    "orderStatus": WorkOrderStatus,
    "eventKind": WorkOrderEventKind,
}
DASHBOARD = {
    **WORK_ORDER_CARDS,
    "transitionKind": TransitionKind,
    "direction": Direction,
    "sensorStatus": SensorStatus,
}
PAGES = {
    "dashboard, duty officer": ("dashboard", "duty_officer", "dashboard-config", DASHBOARD),
    "work orders, department staff": ("work-orders", "staff_a", "workorders-config", WORK_ORDER_CARDS),
    "work orders, duty officer": ("work-orders", "duty_officer", "workorders-config", WORK_ORDER_CARDS),
}
CHINESE = re.compile(r"[\u4e00-\u9fff]")
HEX = re.compile(r"^#[0-9a-f]{6}$")


def choice_classes() -> list[type[ChoiceSet]]:
    found, todo = [], [ChoiceSet]
    while todo:
        for subclass in todo.pop().__subclasses__():
            found.append(subclass)
            todo.append(subclass)
    return found


def page_choices(client, user, url_name: str, config_id: str, language: str) -> dict:
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    match = re.search(
        rf'<script id="{config_id}" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert match, f"no {config_id} on the page"
    return json.loads(match.group(1))["choices"]


# --- The pages --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES.values(), ids=PAGES.keys())
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_page_labels_and_colours_every_value_of_the_choices_it_shows(client, request, page, language):
    url_name, persona, config_id, expected = page

    choices = page_choices(client, request.getfixturevalue(persona), url_name, config_id, language)

    for group, choice_class in expected.items():
        assert set(choices[group]) == {str(value) for value in choice_class.values}, group
        for value, entry in choices[group].items():
            member = choice_class(int(value) if choice_class is Level else value)
            with translation.override(language):
                assert entry["label"] == str(member.label), (group, value)
            assert entry["label"].strip(), (group, value)
            if choice_class.colours:
                assert HEX.match(entry["colour"]), (group, value)
            if choice_class.symbols:
                assert entry["symbol"], (group, value)


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES.values(), ids=PAGES.keys())
def test_the_chinese_page_labels_every_value_in_chinese(client, request, page):
    url_name, persona, config_id, expected = page
    user = request.getfixturevalue(persona)

    chinese = page_choices(client, user, url_name, config_id, "zh-hans")
    english = page_choices(client, user, url_name, config_id, "en")

    for group in expected:
        for value, entry in chinese[group].items():
            for key in ("label", "short"):
                if key in entry:
                    assert CHINESE.search(entry[key]), (group, value, entry[key])
                    assert entry[key] != english[group][value][key], (group, value)


@pytest.mark.django_db
def test_escalated_and_reopened_work_order_events_are_labelled_on_the_work_order_page(client, staff_a):
    english = page_choices(client, staff_a, "work-orders", "workorders-config", "en")["eventKind"]
    chinese = page_choices(client, staff_a, "work-orders", "workorders-config", "zh-hans")["eventKind"]

    assert english["escalated"]["label"] == "Warning escalated"
    assert english["reopened"]["label"] == "Reopened"
    assert CHINESE.search(chinese["escalated"]["label"])
    assert CHINESE.search(chinese["reopened"]["label"])


@pytest.mark.django_db
def test_the_dashboard_counters_and_filter_come_from_the_choices(client, duty_officer):
    client.force_login(duty_officer)

    body = client.get(reverse("dashboard")).content.decode()

    with translation.override("zh-hans"):
        for level in Level:
            assert re.search(rf'data-counter-level="{level.value}"[^>]*style="--c: {level.colour.hex}"', body), level
            assert f'<span class="counter-label">{level.short_label}</span>' in body
        assert f'<option value="active">{WarningStatus.ACTIVE.label}</option>' in body
        assert f'<span class="counter-label">{WarningStatus.RECOVERED.label}</span>' in body


# --- The choice classes -----------------------------------------------------------


@pytest.mark.parametrize("choice_class", choice_classes(), ids=lambda c: c.__name__)
def test_colours_short_labels_and_symbols_name_members_of_their_choice(choice_class):
    names = set(choice_class.names)
    for extra in ("colours", "short_labels", "symbols"):
        assert set(getattr(choice_class, extra)) <= names, extra
    assert set(choice_class.display_order) in (set(), names)
    # A class that colours some values colours them all.
    assert set(choice_class.colours) in (set(), names)


@pytest.mark.parametrize("choice_class", choice_classes(), ids=lambda c: c.__name__)
def test_a_choice_field_still_holds_plain_value_and_label_pairs(choice_class):
    # Colours stay out of the field's choices, and so out of the migrations.
    assert all(len(pair) == 2 and isinstance(pair[1], str | Promise) for pair in choice_class.choices)
    assert [value for value, _ in choice_class.choices] == list(choice_class.values)


@pytest.mark.parametrize(("level", "name"), [(1, "red"), (2, "orange"), (3, "yellow")])
def test_the_api_names_a_warnings_colour_by_its_level(level, name):
    assert WarningSummarySerializer().get_colour(Warning(level=level)) == name


# --- The JavaScript -------------------------------------------------------------------


KEY = r"[\"']?([\w-]+)[\"']?\s*:"
# Two neighbouring keys of an object literal (`{pending: 0, acknowledged: 1`),
# or two neighbouring strings of an array (`["online", "offline"`).
NEIGHBOUR_KEYS = re.compile(rf"(?=[{{,]\s*{KEY}[^,{{}}]*,\s*{KEY})")
NEIGHBOUR_STRINGS = re.compile(r"(?=[\[,]\s*[\"']([\w-]+)[\"']\s*,\s*[\"']([\w-]+)[\"'])")
GETTEXT = re.compile(r"gettext\(\s*[\"']([^\"']*)[\"']\s*\)")
HEX_LITERAL = re.compile(r"#[0-9a-fA-F]{6}\b")


def test_the_javascript_keeps_no_list_of_choice_values_labels_or_colours():
    value_sets = [{str(value) for value in choice_class.values} for choice_class in choice_classes()]
    with translation.override("en"):
        labels = {
            str(text)
            for choice_class in choice_classes()
            for member in choice_class
            for text in (member.label, member.short_label)
        }
    colours = {colour.hex.lower() for colour in vars(palette).values() if isinstance(colour, Colour)}
    copies = []
    for path in sorted(JS.rglob("*.js")):
        source = path.read_text()
        for pattern in (NEIGHBOUR_KEYS, NEIGHBOUR_STRINGS):
            for match in pattern.finditer(source):
                pair = set(match.groups())
                if any(pair <= values for values in value_sets):
                    copies.append(f"{path.name}: values {sorted(pair)}")
        copies += [f"{path.name}: label {m.group(1)!r}" for m in GETTEXT.finditer(source) if m.group(1) in labels]
        copies += [
            f"{path.name}: colour {m.group(0)}" for m in HEX_LITERAL.finditer(source) if m.group(0).lower() in colours
        ]
    assert copies == []


def test_the_javascript_check_finds_the_copies_it_looks_for():
    """The patterns above catch what the old common.js and dashboard.js held."""
    old = """eventKind: {
      created: gettext("Dispatched"),
      acknowledged: gettext("Acknowledged"),
    },
    const COLOURS = { 1: "#ff3b3b", 2: "#ff8c1a" };
    const order = ["online", "offline"];"""

    assert {frozenset(m.groups()) for m in NEIGHBOUR_KEYS.finditer(old)} >= {
        frozenset({"created", "acknowledged"}),
        frozenset({"1", "2"}),
    }
    assert [m.groups() for m in NEIGHBOUR_STRINGS.finditer(old)] == [("online", "offline")]
    assert [m.group(1) for m in GETTEXT.finditer(old)] == ["Dispatched", "Acknowledged"]
    assert [m.group(0) for m in HEX_LITERAL.finditer(old)] == ["#ff3b3b", "#ff8c1a"]
