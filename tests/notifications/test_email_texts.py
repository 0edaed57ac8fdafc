"""E-mail texts: a subject that names the matter, in the reader's language; counts that agree with their nouns."""

import pytest
from django.core import mail
from django.utils import translation

from notifications import services
from notifications.messages import notification_subject, notification_text
from notifications.models import NotificationKind, NotificationPreference

pytestmark = pytest.mark.django_db

ORDER = {
    "order": 7,
    "department": "Gas company",
    "level": 1,
    "sensor": "Gas main, Changjiang Road",
    "code": "G-001",
    "minutes": 15,
}


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    return mail.outbox


def emailed(user, department, *, language=None, data=ORDER, key="wo:7:dispatched", kind=None):
    user.email = f"{user.username}@example.org"
    user.save()
    if language is not None:
        NotificationPreference.objects.create(user=user, language=language)
    (notification,) = services.notify(
        recipients=[user],
        kind=kind or NotificationKind.WORK_ORDER_DISPATCHED,
        level=data.get("level", 1),
        key=key,
        data=data,
        department_id=department.pk,
    )
    assert services.notification_email_send(notification_id=notification.pk) is True
    return mail.outbox[-1]


def test_a_chinese_readers_dispatch_email_names_order_level_and_sensor_in_chinese(staff_a, department_a, mailbox):
    message = emailed(staff_a, department_a, language="zh-hans")

    assert message.subject == "[城市安全] 工单 WO-7 一级预警：Gas main, Changjiang Road（G-001）"  # noqa: RUF001
    # The body starts in the reader's language; the other language follows for a forwarded copy.
    assert message.body.startswith("Gas company 收到新的一级工单 WO-7")
    assert "New Level I work order WO-7 for Gas company" in message.body


def test_an_english_readers_dispatch_email_names_order_level_and_sensor_in_english(staff_a, department_a, mailbox):
    message = emailed(staff_a, department_a, language="en")

    assert message.subject == "[City safety] Work order WO-7, Level I warning: Gas main, Changjiang Road (G-001)"
    assert message.body.startswith("New Level I work order WO-7 for Gas company")


def test_a_reader_without_a_language_gets_the_platforms(staff_a, department_a, mailbox):
    message = emailed(staff_a, department_a)

    assert message.subject.startswith("[城市安全] 工单 WO-7 一级预警")


def test_two_dispatches_have_different_subjects(staff_a, department_a, mailbox):
    first = emailed(staff_a, department_a, language="en")
    second = emailed(
        staff_a, department_a, data={**ORDER, "order": 8, "level": 3, "sensor": "Pump", "code": "W-9"}, key="wo:8"
    )

    assert first.subject != second.subject
    assert second.subject == "[City safety] Work order WO-8, Level III warning: Pump (W-9)"


def test_a_notification_stored_before_codes_were_kept_still_has_a_subject():
    data = {key: value for key, value in ORDER.items() if key != "code"}

    with translation.override("en"):
        assert notification_subject(NotificationKind.WORK_ORDER_DISPATCHED, data) == (
            "[City safety] Work order WO-7, Level I warning: Gas main, Changjiang Road"
        )


@pytest.mark.parametrize(
    ("kind", "data", "english", "chinese"),
    [
        (
            NotificationKind.ESCALATED_TO_LEADER,
            {**ORDER, "stage": "acknowledge"},
            "[City safety] Overdue, escalated to you: work order WO-7, Level I warning: Gas main, Changjiang Road (G-001)",
            "[城市安全] 超时升级至您：工单 WO-7 一级预警：Gas main, Changjiang Road（G-001）",  # noqa: RUF001
        ),
        (
            NotificationKind.GATEWAY_SILENT,
            {"gateway": "GW-3", "name": "North", "level": 2, "sensors": 1},
            "[City safety] Gateway GW-3 (North) silent: 1 sensor without data",
            "[城市安全] 网关 GW-3（North）静默：1 个传感器无数据",  # noqa: RUF001
        ),
    ],
)
def test_every_kind_has_its_own_subject_in_both_languages(kind, data, english, chinese):
    with translation.override("en"):
        assert notification_subject(kind, data) == english
    with translation.override("zh-hans"):
        assert notification_subject(kind, data) == chinese


def test_one_minute_is_a_minute_not_minutes():
    with translation.override("en"):
        text = notification_text(NotificationKind.WORK_ORDER_DISPATCHED, {**ORDER, "minutes": 1})
        several = notification_text(NotificationKind.WORK_ORDER_DISPATCHED, ORDER)
        silent = notification_text(
            NotificationKind.GATEWAY_SILENT, {"gateway": "GW-3", "name": "North", "level": 2, "sensors": 1}
        )

    assert text.endswith("Acknowledge within 1 minute.")
    assert several.endswith("Acknowledge within 15 minutes.")
    assert ": 1 sensor sends no data." in silent


def test_a_text_message_is_written_in_the_readers_language(staff_a, department_a, settings):
    from notifications.sms import MemorySmsBackend

    settings.SMS_BACKEND = "notifications.sms.MemorySmsBackend"
    MemorySmsBackend.outbox.clear()
    NotificationPreference.objects.create(user=staff_a, phone="13800000000", sms_levels=[1], language="en")
    (notification,) = services.notify(
        recipients=[staff_a],
        kind=NotificationKind.WORK_ORDER_DISPATCHED,
        level=1,
        key="wo:7:dispatched",
        data=ORDER,
        department_id=department_a.pk,
    )

    assert services.notification_sms_send(notification_id=notification.pk) is True
    assert MemorySmsBackend.outbox == [
        {
            "phone": "13800000000",
            "text": "New Level I work order WO-7 for Gas company: Gas main, Changjiang Road. Acknowledge within 15 minutes.",
        }
    ]
