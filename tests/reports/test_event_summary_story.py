# ruff: noqa: RUF001 - the Chinese sentences are meant, fullwidth punctuation and all
"""The event summary tells the whole story: the verification verdict, reports
sent back, orders returned, dispatched again and transferred, each with its
reason, who and when; and a historical warning as history, with the
episode's own times. In Chinese and in English."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch import services
from dispatch.models import RoutingPolicy, VerificationMode, WorkOrder
from monitoring.services import readings_ingest
from organisation.roles import DEPARTMENT_STAFF
from reports.models import EventSummary
from tests.factories import UserFactory
from warning import services as warning_services
from warning import verification
from warning.models import Warning

pytestmark = pytest.mark.django_db


def at(moment) -> str:
    """A time as the summaries write it (Beijing time, to the minute)."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def handle(order: WorkOrder, person, *, report: str = "Valve 7 closed.") -> None:
    services.work_order_acknowledge(work_order_id=order.pk, user=person)
    services.work_order_arrive(work_order_id=order.pk, user=person)
    services.work_order_report(work_order_id=order.pk, user=person, report=report)


def close(warning: Warning, duty_officer, capture) -> EventSummary:
    with capture(execute=True):
        services.warning_close_with_work_orders(
            warning_id=warning.pk, user=duty_officer, note="Done.", close_active=True
        )
    return EventSummary.objects.get(warning=warning)


@pytest.fixture
def officer(duty_officer):
    duty_officer.first_name, duty_officer.last_name = "Wei", "Li"
    duty_officer.save()
    return duty_officer


def test_the_summary_tells_who_confirmed_the_warning_when_and_with_what_note(
    city, reach, staff_a, officer, django_capture_on_commit_callbacks
):
    RoutingPolicy.objects.filter(domain__code="gas", level=3).update(verification=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12.0)
    verification.warning_confirm(warning_id=warning.pk, user=officer, note="Camera shows <b>vapour</b> at the valve")
    warning.refresh_from_db()
    order = WorkOrder.objects.get(warning=warning)
    handle(order, staff_a)
    services.work_order_verify(work_order_id=order.pk, user=officer, accept=True)

    summary = close(warning, officer, django_capture_on_commit_callbacks)

    when = at(warning.verified_at)
    assert f"Verification: Wei Li confirmed the warning at {when}." in summary.text_en
    assert "Verification note: Camera shows <b>vapour</b> at the valve" in summary.text_en
    assert f"研判：Wei Li 于 {when} 确认预警。" in summary.text_zh
    assert "研判说明：Camera shows <b>vapour</b> at the valve" in summary.text_zh
    assert summary.facts["verification"]["note"] == "Camera shows <b>vapour</b> at the valve"


def test_a_false_alarm_says_who_ruled_it_and_when(city, reach, officer, django_capture_on_commit_callbacks):
    RoutingPolicy.objects.filter(domain__code="gas", level=3).update(verification=VerificationMode.VERIFY_FIRST)
    warning = reach(city["gas_sensor"], 12.0)

    with django_capture_on_commit_callbacks(execute=True):
        verification.warning_false_alarm(
            warning_id=warning.pk, user=officer, reason="maintenance", note="Crew purging line 3"
        )

    warning.refresh_from_db()
    summary = EventSummary.objects.get(warning=warning)
    when = at(warning.verified_at)
    assert f"Verification found a false alarm: Maintenance work. Ruled by Wei Li at {when}." in summary.text_en
    assert "Verification note: Crew purging line 3" in summary.text_en
    assert f"研判为误报：检修施工。由 Wei Li 于 {when} 判定。" in summary.text_zh


def test_a_report_sent_back_is_told_with_its_reason(city, reach, staff_a, officer, django_capture_on_commit_callbacks):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    handle(order, staff_a)
    services.work_order_verify(work_order_id=order.pk, user=officer, accept=False, reason="No photo of the valve")
    sent_back = order.events.get(kind="sent_back").created_at
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve 7 closed; photo attached.")
    services.work_order_verify(work_order_id=order.pk, user=officer, accept=True)
    accepted = order.events.get(kind="verified").created_at

    summary = close(warning, officer, django_capture_on_commit_callbacks)

    assert f"  {at(sent_back)}: report sent back by Wei Li. Reason: No photo of the valve" in summary.text_en
    assert f"  {at(accepted)}: report accepted by Wei Li." in summary.text_en
    assert f"  {at(sent_back)}：Wei Li 退回报告重报，原因：No photo of the valve" in summary.text_zh
    assert f"  {at(accepted)}：Wei Li 核验通过报告。" in summary.text_zh


def test_a_returned_order_dispatched_again_is_told_with_the_reasons(
    city, reach, staff_a, officer, django_capture_on_commit_callbacks
):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_return(work_order_id=order.pk, user=staff_a, reason="Not our pipe")
    services.work_order_redispatch(work_order_id=order.pk, user=officer, note="Your valve feeds it")
    returned = order.events.get(kind="returned").created_at
    again = order.events.get(kind="redispatched").created_at
    handle(order, staff_a)
    services.work_order_verify(work_order_id=order.pk, user=officer, accept=True)

    summary = close(warning, officer, django_capture_on_commit_callbacks)

    assert f"  {at(returned)}: returned to the duty officer by alice. Reason: Not our pipe" in summary.text_en
    assert f"  {at(again)}: dispatched to the department again by Wei Li. Note: Your valve feeds it" in summary.text_en
    assert f"  {at(returned)}：alice 将工单退回值班员，原因：Not our pipe" in summary.text_zh
    assert f"  {at(again)}：Wei Li 将工单重新派发给本部门，说明：Your valve feeds it" in summary.text_zh


def test_a_transferred_department_reads_transferred_not_unacknowledged(
    city, reach, staff_a, staff_b, officer, django_capture_on_commit_callbacks
):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    successor = services.work_order_transfer(
        work_order_id=order.pk, user=officer, department_id=staff_b.membership.department_id, reason="Water main leak"
    )
    moved = order.events.get(kind="transferred").created_at
    handle(successor, staff_b, report="Main repaired.")
    services.work_order_verify(work_order_id=successor.pk, user=officer, accept=True)

    summary = close(warning, officer, django_capture_on_commit_callbacks)

    gas_en = next(line for line in summary.text_en.splitlines() if line.startswith("- Gas company"))
    gas_zh = next(line for line in summary.text_zh.splitlines() if line.startswith("- Gas company"))
    assert gas_en == (
        f"- Gas company: transferred to Water company at {at(moved)} by Wei Li. Reason for the transfer: Water main leak"
    )
    assert gas_zh == f"- Gas company：{at(moved)} 由 Wei Li 转派给 Water company。转派原因：Water main leak"
    assert "never acknowledged" not in summary.text_en
    assert "未签收" not in summary.text_zh
    assert f"  {at(moved)}: received by transfer from Gas company." in summary.text_en
    assert f"  {at(moved)}：由 Gas company 转派而来。" in summary.text_zh
    # In the order it happened: the department that passed the order on, then the one that took it.
    assert summary.text_en.index("- Gas company") < summary.text_en.index("- Water company")


def test_both_departments_of_a_transfer_read_the_summary_and_no_other(
    client, city, reach, staff_a, staff_b, officer, django_capture_on_commit_callbacks
):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    successor = services.work_order_transfer(
        work_order_id=order.pk, user=officer, department_id=staff_b.membership.department_id, reason="Water main"
    )
    handle(successor, staff_b)
    services.work_order_verify(work_order_id=successor.pk, user=officer, accept=True)
    close(warning, officer, django_capture_on_commit_callbacks)
    stranger = UserFactory(username="carol", roles=[DEPARTMENT_STAFF], department=city["bureau"])

    for person, status in ((staff_a, 200), (staff_b, 200), (stranger, 404)):
        client.force_login(person)
        assert client.get(f"/api/v1/warnings/{warning.pk}/summary/").status_code == status, person
        assert client.get(f"/reports/summaries/{warning.pk}/").status_code == status, person


def test_the_page_escapes_the_reasons_people_wrote(
    client, city, reach, staff_a, officer, django_capture_on_commit_callbacks
):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_return(work_order_id=order.pk, user=staff_a, reason="<script>alert(1)</script>")
    services.work_order_redispatch(work_order_id=order.pk, user=officer)
    handle(order, staff_a)
    services.work_order_verify(work_order_id=order.pk, user=officer, accept=True)
    close(warning, officer, django_capture_on_commit_callbacks)
    client.force_login(staff_a)

    page = client.get(f"/reports/summaries/{warning.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Reason: &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


# --- Historical warnings ---------------------------------------------------------------


@pytest.fixture
def historical(city, gateway):
    """A Level II gas episode of yesterday, its readings posted today after a current one (an archive import)."""
    sensor = city["gas_sensor"]
    sensor.gateway = gateway
    sensor.save()
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - timedelta(days=1)
    times = [start, start + timedelta(minutes=20), start + timedelta(minutes=95)]

    def post(series):
        items = [{"sensor": sensor.code, "observed_at": t.isoformat(), "value": v} for t, v in series]
        assert readings_ingest(gateway=gateway, batch=items).errors == []
        while warning_services.sensors_evaluate(sensor_ids=[sensor.pk]):
            pass

    post([(now, 1.0)])
    post(list(zip(times, (12.0, 30.0, 1.0), strict=True)))
    warning = Warning.objects.get(sensor=sensor, is_historical=True)
    assert WorkOrder.objects.filter(warning=warning).count() == 0
    return warning, times


def test_a_historical_warning_is_summarised_as_history_with_its_own_times(client, historical, duty_officer):
    warning, (opened, _escalated, ended) = historical
    client.force_login(duty_officer)

    english = client.get(f"/api/v1/warnings/{warning.pk}/summary/", HTTP_ACCEPT_LANGUAGE="en").json()["text"]
    chinese = client.get(f"/api/v1/warnings/{warning.pk}/summary/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["text"]

    imported = at(warning.closed_at)
    # Said under the headline, before the readings' story.
    assert english.splitlines()[1].startswith(f"A historical record imported from the archive on {imported}")
    assert "Escalated 1 time before it eased." in english
    assert f"The episode lasted 95 minutes, from {at(opened)} to {at(ended)}." in english
    assert "the platform" not in english
    assert "minutes after it opened" not in english
    assert "No department was dispatched" not in english
    assert chinese.splitlines()[1].startswith(f"历史记录，于 {imported} 从档案导入")
    assert f"事件持续 95 分钟，自 {at(opened)} 至 {at(ended)}。" in chinese
    assert "由 平台 办结" not in chinese
    assert "平台" not in chinese.split("\n", 1)[1]


def test_the_closed_list_gives_a_historical_warning_the_end_of_its_episode(client, historical, duty_officer):
    warning, (_opened, _escalated, ended) = historical
    client.force_login(duty_officer)

    listed = client.get("/api/v1/warnings/?status=closed", HTTP_ACCEPT_LANGUAGE="en").json()["results"]
    closed = client.get("/api/v1/warnings/closed/", HTTP_ACCEPT_LANGUAGE="en").json()["results"]
    detail = client.get(f"/api/v1/warnings/{warning.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    english = client.get("/warnings/closed/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = client.get("/warnings/closed/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    end = timezone.localtime(ended).isoformat()
    for row in (*listed, *closed, detail):
        assert (row["id"], row["closed_at"], row["is_historical"]) == (warning.pk, end, True)
    row_en = english[english.index(f'<tr data-warning="{warning.pk}">') :]
    row_zh = chinese[chinese.index(f'<tr data-warning="{warning.pk}">') :]
    assert f'<time datetime="{end}">{at(ended)}</time>' in row_en
    assert f"data-archive-import>Imported from the archive on {at(warning.closed_at)}" in row_en.split("</tr>")[0]
    assert f'<time datetime="{timezone.localtime(warning.closed_at).isoformat()}' not in english
    assert "从档案导入" in row_zh.split("</tr>")[0]
    assert "data-historical" in row_zh.split("</tr>")[0]
