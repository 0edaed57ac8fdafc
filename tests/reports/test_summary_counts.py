"""An event summary's counts agree with their nouns: one escalation, one minute, one person, one vehicle."""

from reports.summaries import _render

FACTS = {
    "warning": 9,
    "level": 2,
    "sensor": {"code": "GAS-0001", "name": "Valve pit 1", "type": "Methane"},
    "unit": "%LEL",
    "domain": "Gas",
    "district": "Yaohai",
    "opened_at": "2026-12-07T01:00:00+00:00",
    "first_value": 12.0,
    "peak_value": 25.0,
    "escalations": 1,
    "recovered_at": None,
    "closed_at": "2026-12-07T01:01:00+00:00",
    "closed_by": "duty",
    "closed_while_active": False,
    "minutes_open": 1,
    "disposal_note": "",
    "false_alarm_reason": "",
    "orders": [
        {
            "department": "Gas company",
            "acknowledge_minutes": 1,
            "on_site_minutes": None,
            "report_minutes": None,
            "overdue": False,
            "report": "",
            "people_sent": 1,
            "vehicles_sent": 1,
        }
    ],
}


def test_one_of_each_is_written_in_the_singular():
    text = _render(FACTS, "en")

    assert "Escalated 1 time before it eased." in text
    assert "Closed 2026-12-07 09:01 by duty, 1 minute after it opened." in text
    assert "Sent 1 person and 1 vehicle." in text


def test_several_are_written_in_the_plural_and_in_chinese_without_plural():
    facts = {
        **FACTS,
        "escalations": 2,
        "minutes_open": 30,
        "orders": [{**FACTS["orders"][0], "people_sent": 4, "vehicles_sent": 2}],
    }

    assert "Escalated 2 times before it eased." in _render(facts, "en")
    assert "Sent 4 people and 2 vehicles." in _render(facts, "en")
    chinese = _render(facts, "zh-hans")
    assert "出动人员 4 人、车辆 2 台。" in chinese
    assert "缓解前共升级 2 次。" in chinese
