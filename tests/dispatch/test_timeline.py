# ruff: noqa: RUF001 - the Chinese sentences are meant, fullwidth punctuation and all
"""A work order's timeline in the reader's language, and who took each step."""

import importlib

import pytest
from django.utils import translation

from dispatch import services
from dispatch.models import WorkOrder, WorkOrderEventKind
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def events_in(client, order, language):
    response = client.get(f"/api/v1/work-orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.json()["events"]


def test_a_step_written_in_chinese_reads_in_english_for_an_english_reader(client, city, reach, duty_officer):
    with translation.override("zh-hans"):  # the worker writes in the platform's default language
        warning = reach(city["gas_sensor"], 12.0)
        reach(city["gas_sensor"], 25.0)
    order = WorkOrder.objects.get(warning=warning, department__code="gas-company")
    client.force_login(duty_officer)

    english = events_in(client, order, "en")
    chinese = events_in(client, order, "zh-hans")

    assert [e["summary"] for e in english] == [
        "Routed at Level III (yellow); acknowledge within 30 minutes.",
        "The warning rose to Level II (orange).",
    ]
    assert [e["summary"] for e in chinese] == ["按三级（黄色）派发；请在 30 分钟内签收。", "预警已升至二级（橙色）。"]
    assert [e["data"] for e in english] == [{"level": 3, "minutes": 30}, {"level": 2}]
    assert all(e["note"] == "" for e in english)


def test_a_reopened_order_says_so_in_the_readers_language(client, city, reach, staff_a, duty_officer):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve closed.")
    reach(city["gas_sensor"], 1.0)
    with translation.override("zh-hans"):
        reach(city["gas_sensor"], 13.0)
    client.force_login(duty_officer)

    last = events_in(client, order, "en")[-1]

    assert last["kind"] == WorkOrderEventKind.REOPENED
    assert last["summary"] == "The warning is active again: acknowledge within 30 minutes and report anew."


def test_actors_are_people_with_their_department(client, city, reach, department_a, duty_officer):
    # The demo names department accounts after their department: that names nobody.
    account = UserFactory(username="gas", first_name="Gas company", department=department_a)
    person = UserFactory(username="liwei", first_name="Wei", last_name="Li", department=department_a)
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=account)
    WorkOrder.objects.filter(pk=order.pk).update(status="pending")
    services.work_order_acknowledge(work_order_id=order.pk, user=person)
    client.force_login(duty_officer)

    steps = [(e["actor"], e["actor_department"]) for e in events_in(client, order, "en")]

    assert steps == [(None, None), ("gas", "Gas company"), ("Wei Li", "Gas company")]


def test_the_duty_officer_sees_the_departments_phone_and_e_mail(client, city, reach, department_a, duty_officer):
    department_a.phone = "0551-62345678"
    department_a.email = "duty@gas.example.org"
    department_a.save()
    warning = reach(city["gas_sensor"], 12.0)
    client.force_login(duty_officer)

    order = client.get(f"/api/v1/work-orders/?warning={warning.pk}").json()["results"][0]

    assert order["department"]["phone"] == "0551-62345678"
    assert order["department"]["email"] == "duty@gas.example.org"


MIGRATION = importlib.import_module("dispatch.migrations.0007_work_order_events_keep_data_not_sentences")


@pytest.mark.parametrize(
    ("kind", "note", "data"),
    [
        ("created", "按一级（红色）派发；请在 15 分钟内签收。", {"level": 1, "minutes": 15}),
        ("created", "Routed at Level II (orange); acknowledge within 20 minutes.", {"level": 2, "minutes": 20}),
        ("escalated", "预警已升至二级（橙色）。", {"level": 2}),
        ("escalated", "The warning rose to Level I (red).", {"level": 1}),
        ("reopened", "预警再次触发：请在 30 分钟内重新签收并反馈处置情况。", {"minutes": 30}),
        ("reopened", "The warning is active again: acknowledge within 5 minutes and report anew.", {"minutes": 5}),
        ("created", "Crew on the way", None),
        ("acknowledged", "预警已升至二级（橙色）。", None),
    ],
)
def test_the_migration_reads_stored_sentences_back_into_data(kind, note, data):
    assert MIGRATION.data_of(kind, note) == data


@pytest.mark.django_db(transaction=True)
def test_existing_steps_migrate_to_data_and_back(city, reach):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("dispatch", "0006_queue_indexes")]
    # Back to the newest state of every app, not to 0007: the migrations after
    # it (new columns) must be there again for the tests that follow.
    after = MigrationExecutor(connection).loader.graph.leaf_nodes()
    warning = reach(city["gas_sensor"], 12.0)
    event = WorkOrder.objects.get(warning=warning).events.get()
    assert event.data == {"level": 3, "minutes": 30}
    try:
        MigrationExecutor(connection).migrate(before)
        with connection.cursor() as cursor:
            cursor.execute("SELECT note FROM dispatch_workorderevent WHERE id = %s", [event.pk])
            assert cursor.fetchone()[0] == "Routed at Level III (yellow); acknowledge within 30 minutes."
            # As the worker wrote it before this change: a Chinese sentence.
            cursor.execute(
                "UPDATE dispatch_workorderevent SET note = %s WHERE id = %s",
                ["按三级（黄色）派发；请在 30 分钟内签收。", event.pk],
            )
    finally:
        MigrationExecutor(connection).migrate(after)

    event.refresh_from_db()
    assert (event.note, event.data) == ("", {"level": 3, "minutes": 30})


def test_the_admin_shows_what_the_platform_recorded_in_the_admins_language(admin_user, city, reach):
    from django.test import Client

    with translation.override("zh-hans"):
        warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    admin = Client(HTTP_ACCEPT_LANGUAGE="en")
    admin.force_login(admin_user)

    html = admin.get(f"/admin/dispatch/workorder/{order.pk}/change/").content.decode()

    assert "Routed at Level III (yellow); acknowledge within 30 minutes." in html
