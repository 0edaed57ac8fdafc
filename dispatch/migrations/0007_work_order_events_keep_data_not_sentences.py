"""Timeline steps keep their data; the sentence is written in the reader's language.

The platform's own notes were stored as sentences in the language active
when they were written (Chinese, from the worker). They are read back into
data here, in either language; a note that matches neither is a person's
and stays as it is.
"""

import re

from django.db import migrations, models

# The sentences as they were written before this migration, frozen here:
# the catalogue moves on, these rows do not.
LEVELS = {
    "Level I (red)": 1,
    "Level II (orange)": 2,
    "Level III (yellow)": 3,
    "一级（红色）": 1,
    "二级（橙色）": 2,
    "三级（黄色）": 3,
}
LEVEL = "(?P<level>" + "|".join(re.escape(label) for label in LEVELS) + ")"
PATTERNS = {
    "created": [
        re.compile(rf"^Routed at {LEVEL}; acknowledge within (?P<minutes>\d+) minutes\.$"),
        re.compile(rf"^按{LEVEL}派发；请在 (?P<minutes>\d+) 分钟内签收。$"),
    ],
    "escalated": [
        re.compile(rf"^The warning rose to {LEVEL}\.$"),
        re.compile(rf"^预警已升至{LEVEL}。$"),
    ],
    "reopened": [
        re.compile(r"^The warning is active again: acknowledge within (?P<minutes>\d+) minutes and report anew\.$"),
        re.compile(r"^预警再次触发：请在 (?P<minutes>\d+) 分钟内重新签收并反馈处置情况。$"),
    ],
}


def data_of(kind: str, note: str) -> dict | None:
    for pattern in PATTERNS.get(kind, ()):
        match = pattern.match(note.strip())
        if match:
            found = match.groupdict()
            data = {}
            if "level" in found:
                data["level"] = LEVELS[found["level"]]
            if "minutes" in found:
                data["minutes"] = int(found["minutes"])
            return data
    return None


def sentences_to_data(apps, schema_editor):
    WorkOrderEvent = apps.get_model("dispatch", "WorkOrderEvent")
    events = WorkOrderEvent.objects.filter(kind__in=list(PATTERNS)).exclude(note="").only("id", "kind", "note")
    changed = []
    for event in events.iterator(chunk_size=2000):
        data = data_of(event.kind, event.note)
        if data is not None:
            event.data = data
            event.note = ""
            changed.append(event)
        if len(changed) >= 2000:
            WorkOrderEvent.objects.bulk_update(changed, ["data", "note"])
            changed = []
    if changed:
        WorkOrderEvent.objects.bulk_update(changed, ["data", "note"])


def data_to_sentences(apps, schema_editor):
    """Back to English sentences (the language of the source strings)."""
    WorkOrderEvent = apps.get_model("dispatch", "WorkOrderEvent")
    labels = {1: "Level I (red)", 2: "Level II (orange)", 3: "Level III (yellow)"}
    for event in WorkOrderEvent.objects.filter(kind__in=list(PATTERNS), note="").exclude(data={}):
        data = event.data
        if event.kind == "created":
            event.note = f"Routed at {labels[data['level']]}; acknowledge within {data['minutes']} minutes."
        elif event.kind == "escalated":
            event.note = f"The warning rose to {labels[data['level']]}."
        else:
            event.note = f"The warning is active again: acknowledge within {data['minutes']} minutes and report anew."
        event.save(update_fields=["note"])


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0006_queue_indexes"),
        # Every model points at the organisation app from here on: the
        # data step below needs a consistent state.
        ("monitoring", "0003_districts_move_to_organisation"),
    ]

    operations = [
        migrations.AddField(
            model_name="workorderevent",
            name="data",
            field=models.JSONField(blank=True, default=dict, verbose_name="data"),
        ),
        migrations.RunPython(sentences_to_data, data_to_sentences, elidable=False),
    ]
