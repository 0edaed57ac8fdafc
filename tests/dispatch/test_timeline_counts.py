# ruff: noqa: RUF001 - the Chinese sentences are meant, fullwidth punctuation and all
"""A timeline step with a count says "1 minute", "1 photo": its sentence is chosen by the count,
in the API and in the templates the pages get."""

import pytest
from django.utils import translation

from dispatch.models import WorkOrderEventKind
from dispatch.timeline import event_sentence, sentences_json


@pytest.mark.parametrize(
    ("kind", "data", "one", "several"),
    [
        (
            WorkOrderEventKind.CREATED,
            {"level": 1},
            "Routed at Level I (red); acknowledge within 1 minute.",
            "Routed at Level I (red); acknowledge within 15 minutes.",
        ),
        (
            WorkOrderEventKind.REMINDED,
            {"stage": "acknowledge", "people": "alice"},
            "1 minute past the deadline to acknowledge: the department's person on duty was reminded (alice).",
            "15 minutes past the deadline to acknowledge: the department's person on duty was reminded (alice).",
        ),
        (
            WorkOrderEventKind.REDISPATCHED,
            {},
            "Dispatched to the department again; acknowledge within 1 minute.",
            "Dispatched to the department again; acknowledge within 15 minutes.",
        ),
    ],
)
def test_a_step_counted_in_minutes_says_minute_for_one(kind, data, one, several):
    with translation.override("en"):
        assert event_sentence(kind, {**data, "minutes": 1}) == one
        assert event_sentence(kind, {**data, "minutes": 15}) == several


def test_a_report_with_one_photo_says_photo():
    data = {"actions_done": 1, "actions_total": 1}
    with translation.override("en"):
        assert event_sentence(WorkOrderEventKind.REPORTED, {**data, "photos": 1}) == (
            "Plan actions done: 1 of 1; 1 photo."
        )
        assert event_sentence(WorkOrderEventKind.REPORTED, {**data, "photos": 3}) == (
            "Plan actions done: 1 of 1; 3 photos."
        )
    with translation.override("zh-hans"):
        assert (
            event_sentence(WorkOrderEventKind.REPORTED, {**data, "photos": 1}) == "预案处置事项完成 1/1 项；照片 1 张。"
        )


def test_the_pages_get_both_forms_and_the_name_of_the_count():
    with translation.override("en"):
        english = sentences_json()
    with translation.override("zh-hans"):
        chinese = sentences_json()

    assert english[WorkOrderEventKind.CREATED] == {
        "count": "minutes",
        "forms": [
            "Routed at %(level)s; acknowledge within %(minutes)s minute.",
            "Routed at %(level)s; acknowledge within %(minutes)s minutes.",
        ],
    }
    assert chinese[WorkOrderEventKind.CREATED]["forms"] == ["按%(level)s派发；请在 %(minutes)s 分钟内签收。"] * 2
    assert english[WorkOrderEventKind.ESCALATED] == "The warning rose to %(level)s."
