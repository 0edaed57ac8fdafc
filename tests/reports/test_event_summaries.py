"""The event summary (反馈总结): written when a warning closes, in Chinese
and English, from its data; read by those concerned; edited, then archived,
by a duty officer."""

import pytest

from dispatch import services
from dispatch.models import WorkOrder
from organisation.roles import DEPARTMENT_STAFF
from reports.models import EventSummary
from reports.summaries import event_summary_write
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_warning(city, reach, staff_a, duty_officer, django_capture_on_commit_callbacks):
    """A Level III gas warning handled by the gas company and closed through the API's service."""
    warning = reach(city["gas_sensor"], 12.0)
    reach(city["gas_sensor"], 2.0)  # back to normal
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(
        work_order_id=order.pk,
        user=staff_a,
        report="Valve 7 closed, leak sealed.",
        cause="A corroded joint",
        actions_taken="Closed valve 7, replaced the joint",
    )
    services.work_order_verify(work_order_id=order.pk, user=duty_officer, accept=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.warning_close_with_work_orders(warning_id=warning.pk, user=duty_officer, note="Pipe joint replaced.")
    return warning


def test_closing_a_warning_writes_its_summary_in_both_languages(closed_warning):
    summary = EventSummary.objects.get(warning=closed_warning)

    assert summary.text_en.startswith(f"Level III (yellow) warning #{closed_warning.pk} on sensor GAS-0001")
    assert "Yaohai" in summary.text_en
    assert (
        "- Gas company: acknowledged after 0 min, on site after 0 min, reported after 0 min."
        " Report: Valve 7 closed, leak sealed.\n  Cause: A corroded joint\n"
        "  Actions taken: Closed valve 7, replaced the joint"
    ) in summary.text_en
    assert "Disposal note: Pipe joint replaced." in summary.text_en
    assert "Back to normal" in summary.text_en
    assert summary.text_zh.startswith(f"三级（黄色）预警 #{closed_warning.pk}")  # noqa: RUF001
    assert "Valve 7 closed, leak sealed." in summary.text_zh
    assert summary.facts["orders"][0]["department"] == "Gas company"
    assert summary.archived_at is None
    assert summary.edited_at is None


def test_writing_again_changes_nothing_a_person_edited(closed_warning, duty_officer):
    from reports.summaries import event_summary_edit

    event_summary_edit(user=duty_officer, warning_id=closed_warning.pk, text_zh="人工总结", text_en="By hand")

    event_summary_write(warning_id=closed_warning.pk)

    summary = EventSummary.objects.get(warning=closed_warning)
    assert (summary.text_zh, summary.text_en) == ("人工总结", "By hand")
    assert EventSummary.objects.count() == 1


def test_an_open_warning_has_no_summary(city, reach):
    warning = reach(city["gas_sensor"], 12.0)

    assert event_summary_write(warning_id=warning.pk) is None
    assert not EventSummary.objects.exists()


def test_the_api_gives_the_summary_in_the_readers_language(client, closed_warning, duty_officer):
    client.force_login(duty_officer)

    english = client.get(f"/api/v1/warnings/{closed_warning.pk}/summary/", HTTP_ACCEPT_LANGUAGE="en").json()
    chinese = client.get(f"/api/v1/warnings/{closed_warning.pk}/summary/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert english["text"] == english["text_en"]
    assert english["text"].startswith("Level III (yellow)")
    assert chinese["text"] == chinese["text_zh"]
    assert chinese["text"].startswith("三级")
    assert english["archived_at"] is None


def test_the_departments_that_acted_may_read_it_and_no_other(client, closed_warning, staff_a, department_b):
    stranger = UserFactory(username="bob", roles=[DEPARTMENT_STAFF], department=department_b)
    client.force_login(staff_a)
    assert client.get(f"/api/v1/warnings/{closed_warning.pk}/summary/").status_code == 200
    assert client.get(f"/reports/summaries/{closed_warning.pk}/").status_code == 200

    client.force_login(stranger)
    assert client.get(f"/api/v1/warnings/{closed_warning.pk}/summary/").status_code == 404
    assert client.get(f"/reports/summaries/{closed_warning.pk}/").status_code == 404


def test_only_a_duty_officer_edits_it(client, closed_warning, staff_a):
    client.force_login(staff_a)

    refused = client.put(
        f"/api/v1/warnings/{closed_warning.pk}/summary/",
        {"text_zh": "改", "text_en": "Changed"},
        content_type="application/json",
    )

    assert refused.status_code == 403
    assert EventSummary.objects.get(warning=closed_warning).text_en != "Changed"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"text_zh": "   ", "text_en": "Fine"}, "text_zh"), ({"text_zh": "好", "text_en": "x" * 20_001}, "text_en")],
)
def test_an_empty_or_oversized_text_is_refused_by_field(client, closed_warning, duty_officer, body, field):
    client.force_login(duty_officer)

    refused = client.put(f"/api/v1/warnings/{closed_warning.pk}/summary/", body, content_type="application/json")

    assert refused.status_code == 400
    assert field in refused.json()


def test_an_archived_summary_no_longer_changes(client, closed_warning, duty_officer):
    duty_officer.first_name = "Wei"
    duty_officer.last_name = "Li"
    duty_officer.save()
    client.force_login(duty_officer)
    url = f"/api/v1/warnings/{closed_warning.pk}/summary/"

    archived = client.put(
        url, {"text_zh": "总结", "text_en": "Summary", "archive": True}, content_type="application/json"
    )
    again = client.put(
        url, {"text_zh": "再改", "text_en": "Again"}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert archived.status_code == 200
    assert archived.json()["archived_by"] == "Wei Li"
    assert again.status_code == 409
    assert "archived by Wei Li" in again.json()["detail"]
    assert EventSummary.objects.get(warning=closed_warning).text_en == "Summary"


def test_the_page_edits_then_archives(client, closed_warning, duty_officer):
    client.force_login(duty_officer)
    url = f"/reports/summaries/{closed_warning.pk}/"

    form = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    saved = client.post(url, {"text_zh": "中文总结", "text_en": "English summary", "archive": ""})
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'id="summary-form"' in form
    assert saved.status_code == 302
    assert 'id="summary-form"' not in page
    assert "English summary" in page
    assert "Archived by duty" in page


def test_the_page_keeps_the_text_and_says_why_when_a_field_is_empty(client, closed_warning, duty_officer):
    client.force_login(duty_officer)

    page = client.post(
        f"/reports/summaries/{closed_warning.pk}/", {"text_zh": "", "text_en": "Kept"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert page.status_code == 400
    assert "cannot be empty" in page.content.decode()
    assert ">Kept</textarea>" in page.content.decode()
    assert EventSummary.objects.get(warning=closed_warning).text_en != "Kept"


def test_a_warning_closed_before_summaries_existed_gets_one_when_asked(client, closed_warning, duty_officer):
    EventSummary.objects.all().delete()
    client.force_login(duty_officer)

    answer = client.get(f"/api/v1/warnings/{closed_warning.pk}/summary/", HTTP_ACCEPT_LANGUAGE="en")

    assert answer.status_code == 200
    assert answer.json()["text"].startswith("Level III (yellow)")


def test_the_closed_warnings_page_links_each_summary(client, closed_warning, duty_officer):
    client.force_login(duty_officer)

    page = client.get("/warnings/closed/").content.decode()

    assert f'href="/reports/summaries/{closed_warning.pk}/" data-summary-link' in page


def test_a_false_alarm_gets_a_summary_that_says_so(city, reach, duty_officer, django_capture_on_commit_callbacks):
    from dispatch.models import RoutingPolicy, VerificationMode
    from warning import verification

    RoutingPolicy.objects.filter(domain__code="gas", level=3).update(verification=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12.0)

    with django_capture_on_commit_callbacks(execute=True):
        verification.warning_false_alarm(warning_id=warning.pk, user=duty_officer, reason="sensor_fault", note="")

    summary = EventSummary.objects.get(warning=warning)
    assert "Verification found a false alarm: Sensor fault." in summary.text_en
    assert "No department was dispatched." in summary.text_en
