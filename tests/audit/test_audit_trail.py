"""Who changed what: every change to the platform's configuration kept, with who, when, before and after."""

import datetime
import os
import subprocess
import sys
from datetime import timedelta

import pghistory
import pytest
from celery import shared_task
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import services
from audit.models import TRACKED, DepartmentEvent, GatewayEvent, ThresholdRuleEvent, UserEvent
from dispatch.models import ResponsePlan
from monitoring.models import Gateway
from organisation.models import Department, DutyShift
from tests.factories import (
    DepartmentFactory,
    GatewayFactory,
    RiskDomainFactory,
    RoutingPolicyFactory,
    SensorFactory,
    ThresholdRuleFactory,
    UserFactory,
)
from tests.live import child_env
from warning.models import Silence, ThresholdRule

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def history(obj) -> list:
    """The object's events, oldest first."""
    return list(TRACKED[type(obj)._meta.concrete_model].objects.filter(pgh_obj_id=obj.pk).order_by("pgh_id"))


def _make(kind: str, person):
    """An object of each tracked kind, and the field a change below alters."""
    if kind == "threshold rule":
        return ThresholdRuleFactory(), "level2_threshold", 25.0
    if kind == "silence":
        sensor = SensorFactory()
        return (
            Silence.objects.create(
                sensor=sensor, reason="maintenance", created_by=person, ends_at=timezone.now() + timedelta(hours=1)
            ),
            "reason",
            "inspection",
        )
    if kind == "routing policy":
        return RoutingPolicyFactory(), "ack_deadline_minutes", 30
    if kind == "response plan":
        return (
            ResponsePlan.objects.create(domain=RiskDomainFactory(), level=2, title="Gas leak plan"),
            "title",
            "Plan B",
        )
    if kind == "sensor":
        return SensorFactory(), "name", "Renamed sensor"
    if kind == "gateway":
        return GatewayFactory(), "name", "Renamed gateway"
    if kind == "department":
        return DepartmentFactory(), "name", "Renamed department"
    if kind == "duty roster":
        department = DepartmentFactory()
        shift = DutyShift.objects.create(department=department, date=datetime.date(2026, 12, 8), person_on_duty=person)
        return shift, "date", datetime.date(2026, 12, 9)
    if kind == "user":
        return UserFactory(username="carol"), "first_name", "Carol"
    raise AssertionError(kind)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind",
    [
        "threshold rule",
        "silence",
        "routing policy",
        "response plan",
        "sensor",
        "gateway",
        "department",
        "duty roster",
        "user",
    ],
)
def test_each_tracked_kind_keeps_who_changed_it_with_before_and_after(kind, admin_user):
    obj, field, new_value = _make(kind, admin_user)
    old_value = getattr(obj, field)

    with pghistory.context(user=admin_user.pk, username=admin_user.username):
        setattr(obj, field, new_value)
        obj.save()

    events = history(obj)
    assert [e.pgh_label for e in events] == ["insert", "before_update", "update"]
    _insert, before, after = events
    assert getattr(before, field) == old_value
    assert getattr(after, field) == new_value
    assert after.pgh_context["username"] == "admin"
    assert after.pgh_context["user"] == admin_user.pk
    assert after.pgh_created_at is not None


@pytest.mark.django_db
def test_a_bulk_update_and_raw_sql_are_recorded_too():
    rule = ThresholdRuleFactory()

    ThresholdRule.objects.filter(pk=rule.pk).update(level1_threshold=60.0)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE warning_thresholdrule SET level1_threshold = 70 WHERE id = %s", [rule.pk])

    assert [(e.pgh_label, e.level1_threshold) for e in history(rule)] == [
        ("insert", 50.0),
        ("before_update", 50.0),
        ("update", 60.0),
        ("before_update", 60.0),
        ("update", 70.0),
    ]


@pytest.mark.django_db
def test_signing_in_and_a_gateways_heartbeat_are_not_changes_and_no_hash_is_kept(client, admin_user):
    gateway = GatewayFactory()
    Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=timezone.now())
    assert client.login(username="admin", password="pass-word-123")

    assert [e.pgh_label for e in history(gateway)] == ["insert"]
    assert [e.pgh_label for e in history(admin_user)] == ["insert"]
    assert "password" not in {f.name for f in UserEvent._meta.fields}
    assert "token_hash" not in {f.name for f in GatewayEvent._meta.fields}


@pytest.mark.django_db
def test_a_deleted_objects_history_is_kept():
    department = DepartmentFactory(name="Drainage company")
    pk = department.pk
    department.name = "Drainage group"
    department.save()

    department.delete()

    assert not Department.objects.filter(pk=pk).exists()
    events = DepartmentEvent.objects.filter(pgh_obj_id=pk).order_by("pgh_id")
    assert [(e.pgh_label, e.name) for e in events] == [
        ("insert", "Drainage company"),
        ("before_update", "Drainage company"),
        ("update", "Drainage group"),
        ("delete", "Drainage group"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_thresholdruleevent SET level1_threshold = 1",
        "DELETE FROM audit_thresholdruleevent",
        "UPDATE audit_userevent SET username = 'nobody'",
        "DELETE FROM audit_departmentevent",
    ],
)
def test_the_trail_refuses_update_and_delete_even_to_the_database_superuser(statement):
    ThresholdRuleFactory()
    UserFactory()
    DepartmentFactory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (True,)  # the tests connect as the database's superuser

    with (
        pytest.raises(DatabaseError, match="Cannot update or delete rows from audit_"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)

    assert ThresholdRuleEvent.objects.filter(level1_threshold=1).count() == 0
    assert DepartmentEvent.objects.exists()


@pytest.mark.django_db
def test_the_admins_delete_in_the_event_admin_is_refused(admin_client):
    DepartmentFactory()
    event = DepartmentEvent.objects.get()

    response = admin_client.post(f"/admin/audit/departmentevent/{event.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert DepartmentEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_retention_drops_only_events_older_than_the_setting(settings):
    settings.AUDIT_RETENTION_DAYS = 200
    rule = ThresholdRuleFactory()
    rule.level3_threshold = 12.0
    rule.save()

    kept = sum(event_model.objects.count() for event_model in TRACKED.values())

    assert services.audit_trail_prune(now=timezone.now() + timedelta(days=199)) == 0
    assert len(history(rule)) == 3
    assert services.audit_trail_prune(now=timezone.now() + timedelta(days=201)) == kept
    assert history(rule) == []
    # The trigger is back after the prune's own transaction.
    ThresholdRuleFactory()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_thresholdruleevent")


@pytest.mark.django_db
def test_retention_never_goes_below_six_months_even_with_the_setting_lowered_at_run_time(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    ThresholdRuleFactory()

    assert services.audit_trail_prune(now=timezone.now() + timedelta(days=100)) == 0
    assert ThresholdRuleEvent.objects.count() == 1
    assert services.audit_trail_prune(now=timezone.now() + timedelta(days=184)) > 0


def test_a_retention_under_six_months_stops_the_process_with_a_clear_message():
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "citysafety.settings", "AUDIT_RETENTION_DAYS": "90"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert "AUDIT_RETENTION_DAYS=90: the audit trail must be kept at least six months (183 days)." in done.stderr


@shared_task(name="tests.audit.rename_rule")
def rename_rule(rule_id: int) -> None:
    ThresholdRule.objects.filter(pk=rule_id).update(name="Renamed by the system")


@pytest.mark.django_db
def test_a_change_made_by_a_task_names_the_system_and_the_task():
    rule = ThresholdRuleFactory()

    rename_rule.apply(args=[rule.pk])

    after = history(rule)[-1]
    assert after.name == "Renamed by the system"
    assert after.pgh_context["system"] is True
    assert after.pgh_context["task"] == "tests.audit.rename_rule"
    assert after.pgh_context["user"] is None


@pytest.mark.django_db
def test_a_change_in_the_admin_names_the_signed_in_person(admin_client):
    department = DepartmentFactory(name="Drainage company")

    response = admin_client.post(f"/admin/organisation/department/{department.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    (deleted,) = DepartmentEvent.objects.filter(pgh_obj_id=department.pk, pgh_label="delete")
    assert deleted.name == "Drainage company"
    assert deleted.pgh_context["username"] == "admin"
    assert deleted.pgh_context["url"] == f"/admin/organisation/department/{department.pk}/delete/"


@pytest.mark.django_db
def test_the_admin_shows_an_objects_history_beside_it_with_who_before_and_after(admin_client, admin_user):
    rule = ThresholdRuleFactory(name="Methane <b>upper</b> limit")
    with pghistory.context(user=admin_user.pk, username="admin"):
        rule.level2_threshold = 25.0
        rule.save()

    page = admin_client.get(f"/admin/warning/thresholdrule/{rule.pk}/history/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    (newest, oldest) = page.context["rows"]
    assert (newest.who, newest.action) == ("admin", "changed")
    assert [(c.field, c.before, c.after) for c in newest.changes] == [("Level II threshold (orange)", 20.0, 25.0)]
    assert (oldest.who, oldest.action) == ("system (no person signed in)", "created")
    html = page.content.decode()
    assert 'id="audit-history"' in html
    # A stored string is escaped on the page.
    assert "Methane &lt;b&gt;upper&lt;/b&gt; limit" in html
    assert "<b>upper</b>" not in html


@pytest.mark.django_db
def test_a_deleted_objects_history_stays_readable_in_the_admin(admin_client):
    department = DepartmentFactory(name="Drainage company")
    pk = department.pk
    department.delete()

    page = admin_client.get(f"/admin/organisation/department/{pk}/history/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    assert [row.action for row in page.context["rows"]] == ["deleted", "created"]
    assert "Drainage company" in page.content.decode()
    listing = admin_client.get(f"/admin/audit/departmentevent/?q={pk}")
    assert listing.status_code == 200
    assert len(listing.context["cl"].result_list) == 2
    assert admin_client.get("/admin/audit/departmentevent/?q=abc").status_code == 200


@pytest.mark.django_db
def test_the_history_is_for_administrators_only(client, staff_a, duty_officer):
    department = DepartmentFactory()
    for person in (staff_a, duty_officer):
        client.force_login(person)
        page = client.get(f"/admin/organisation/department/{department.pk}/history/")
        assert page.status_code == 302  # to the admin's sign-in: not staff
        assert client.get("/admin/audit/departmentevent/").status_code == 302


@pytest.mark.django_db
def test_a_change_through_the_api_names_the_signed_in_person(client, duty_officer):
    SensorFactory(code="GAS-A")
    client.force_login(duty_officer)

    response = client.post(
        "/api/v1/silences/",
        {"sensor": "GAS-A", "reason": "Valve work", "ends_at": (timezone.now() + timedelta(hours=2)).isoformat()},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    (created,) = TRACKED[Silence].objects.filter(pgh_label="insert")
    assert created.reason == "Valve work"
    assert (created.pgh_context["username"], created.pgh_context["url"]) == ("duty", "/api/v1/silences/")


@pytest.mark.django_db(transaction=True)
def test_a_management_command_is_named_as_the_author():
    rule = ThresholdRuleFactory()
    code = (
        f"from warning.models import ThresholdRule; ThresholdRule.objects.filter(pk={rule.pk}).update(name='By hand')"
    )

    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    after = history(rule)[-1]
    assert after.name == "By hand"
    assert after.pgh_context == {"system": True, "user": None, "username": None, "command": "shell"}
