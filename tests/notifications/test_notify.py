"""Telling people: once per transition, only those who may know, by the channels they chose."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications import services
from notifications.models import Notification, NotificationKind, NotificationPreference
from notifications.sms import MemorySmsBackend
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DATA = {"order": 7, "department": "Gas company", "level": 2, "sensor": "GAS-0001", "minutes": 15}


def tell(recipients, *, key="wo:7:dispatched", level=2, department=None):
    return services.notify(
        recipients=recipients,
        kind=NotificationKind.WORK_ORDER_DISPATCHED,
        level=level,
        key=key,
        data=DATA,
        link="/work-orders/",
        department_id=department.pk if department else None,
    )


def test_a_transition_is_told_to_each_person_once_however_often_it_is_announced(staff_a, department_a):
    first = tell([staff_a, staff_a], department=department_a)
    again = tell([staff_a], department=department_a)

    assert len(first) == 1
    assert again == []
    assert Notification.objects.filter(recipient=staff_a).count() == 1


def test_a_person_outside_the_department_is_never_told_of_its_work(staff_a, staff_b, department_a, duty_officer):
    made = tell([staff_a, staff_b, duty_officer], department=department_a)

    assert sorted(n.recipient.username for n in made) == ["alice", "duty"]
    assert not Notification.objects.filter(recipient=staff_b).exists()


def test_a_city_matter_reaches_duty_officers_only(staff_a, duty_officer):
    made = tell([staff_a, duty_officer], department=None)
    assert [n.recipient for n in made] == [duty_officer]


def test_an_inactive_person_is_not_told(staff_a, department_a):
    staff_a.is_active = False
    staff_a.save()
    assert tell([staff_a], department=department_a) == []


def test_the_sentence_is_written_in_the_readers_language(staff_a, department_a):
    from django.utils import translation

    from notifications.messages import notification_text

    (notification,) = tell([staff_a], department=department_a)
    assert notification_text(notification.kind, notification.data) == (
        "New Level II work order WO-7 for Gas company: GAS-0001. Acknowledge within 15 minutes."
    )
    with translation.override("zh-hans"):
        assert notification_text(notification.kind, notification.data) == (
            "Gas company 收到新的二级工单 WO-7：GAS-0001。请在 15 分钟内签收。"  # noqa: RUF001
        )


def test_preferences_choose_the_levels_each_channel_carries(
    staff_a, department_a, django_capture_on_commit_callbacks, settings
):
    settings.SMS_BACKEND = "notifications.sms.MemorySmsBackend"
    MemorySmsBackend.outbox.clear()
    staff_a.email = "alice@gas.example"
    staff_a.save()
    NotificationPreference.objects.create(
        user=staff_a, phone="13800000000", in_app_levels=[1], email_levels=[1, 2, 3], sms_levels=[2]
    )
    sent = []
    with django_capture_on_commit_callbacks() as callbacks:
        (notification,) = tell([staff_a], department=department_a, level=2)
    # What would be delivered after the commit: no push (in-app is Level I only), e-mail and SMS queued.
    from notifications import tasks

    original_email, original_sms = tasks.send_notification_email.delay, tasks.send_notification_sms.delay
    tasks.send_notification_email.delay = lambda pk: sent.append(("email", pk))
    tasks.send_notification_sms.delay = lambda pk: sent.append(("sms", pk))
    try:
        for callback in callbacks:
            callback()
    finally:
        tasks.send_notification_email.delay, tasks.send_notification_sms.delay = original_email, original_sms

    assert notification.shown_in_app is False
    assert sent == [("email", notification.pk), ("sms", notification.pk)]
    # Not on the bell or the list: that channel is off for Level II.
    assert Notification.objects.get().shown_in_app is False


def test_sms_goes_through_the_configured_backend_once(staff_a, department_a, settings):
    settings.SMS_BACKEND = "notifications.sms.MemorySmsBackend"
    MemorySmsBackend.outbox.clear()
    NotificationPreference.objects.create(user=staff_a, phone="13800000000", in_app_levels=[1, 2, 3], sms_levels=[2])
    (notification,) = tell([staff_a], department=department_a)

    assert services.notification_sms_send(notification_id=notification.pk) is True
    assert services.notification_sms_send(notification_id=notification.pk) is False
    assert MemorySmsBackend.outbox == [
        {"phone": "13800000000", "text": "Gas company 收到新的二级工单 WO-7：GAS-0001。请在 15 分钟内签收。"}  # noqa: RUF001
    ]


def test_the_console_sms_backend_writes_to_the_log(staff_a, department_a, settings, caplog):
    settings.SMS_BACKEND = "notifications.sms.ConsoleSmsBackend"
    NotificationPreference.objects.create(user=staff_a, phone="13900000000", sms_levels=[2])
    (notification,) = tell([staff_a], department=department_a)
    with caplog.at_level("INFO", logger="notifications.sms"):
        services.notification_sms_send(notification_id=notification.pk)
    assert "SMS to 13900000000" in caplog.text


def test_an_email_reaches_a_real_smtp_server_once(staff_a, department_a, smtp_server):
    staff_a.email = "alice@gas.example"
    staff_a.save()
    (notification,) = tell([staff_a], department=department_a)

    assert services.notification_email_send(notification_id=notification.pk) is True
    assert services.notification_email_send(notification_id=notification.pk) is False

    (message,) = smtp_server.messages
    assert message["to"] == ["alice@gas.example"]
    assert "New Level II work order WO-7 for Gas company" in message["data"]
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_an_email_the_server_refuses_stays_unsent_for_the_retry(staff_a, department_a, settings):
    import smtplib

    from tests.live import free_port

    staff_a.email = "alice@gas.example"
    staff_a.save()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    (notification,) = tell([staff_a], department=department_a)

    with pytest.raises((OSError, smtplib.SMTPException)):
        services.notification_email_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.emailed_at is None


# --- The list, the bell and marking read: each person's own only ----------------


@pytest.fixture
def two_people_told(staff_a, staff_b, department_a, department_b):
    mine = tell([staff_a], department=department_a, key="wo:1:dispatched")
    theirs = tell([staff_b], department=department_b, key="wo:2:dispatched")
    return mine[0], theirs[0]


def test_the_api_lists_only_the_persons_own_notifications(client, staff_a, two_people_told):
    mine, _theirs = two_people_told
    client.force_login(staff_a)

    response = client.get(reverse("api-notifications"))

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]
    assert client.get(reverse("api-notifications-unread")).json() == {"unread": 1}


def test_marking_another_persons_notification_read_answers_404_and_changes_nothing(client, staff_a, two_people_told):
    _mine, theirs = two_people_told
    client.force_login(staff_a)

    assert client.post(reverse("api-notification-read", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notification-read", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_read_lowers_the_unread_count(client, staff_a, two_people_told):
    mine, theirs = two_people_told
    client.force_login(staff_a)

    response = client.post(reverse("api-notification-read", args=[mine.pk]))

    assert response.status_code == 200
    assert response.json()["read"] is True
    assert client.get(reverse("api-notifications-unread")).json() == {"unread": 0}
    assert client.post(reverse("api-notifications-read-all")).json() == {"marked": 0}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_list_page_shows_the_persons_own_notifications_and_the_bell_counts_them(client, staff_a, two_people_told):
    mine, theirs = two_people_told
    client.force_login(staff_a)

    body = client.get(reverse("notifications")).content.decode()

    assert f'data-notification="{mine.pk}"' in body
    assert f'data-notification="{theirs.pk}"' not in body
    assert 'data-unread="1"' in body
    client.post(reverse("notifications-read-all"))
    assert 'data-unread="0"' in client.get(reverse("notifications")).content.decode()


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, staff_a, two_people_told):
    mine, _theirs = two_people_told
    client.force_login(staff_a)

    response = client.post(reverse("notification-read", args=[mine.pk]), {"follow": "1"})

    assert response.status_code == 302
    assert response["Location"] == "/work-orders/"
    mine.refresh_from_db()
    assert mine.read_at is not None


def test_signed_out_visitors_get_no_notifications(client, two_people_told):
    assert client.get(reverse("api-notifications")).status_code in {401, 403}
    assert client.get(reverse("notifications")).status_code == 302


def test_preferences_left_out_use_the_defaults(staff_a, department_a):
    (level_three,) = tell([staff_a], department=department_a, level=3, key="a")
    assert level_three.shown_in_app is True
    UserFactory(username="nobody-else")


def test_the_api_filters_unread_notifications(client, staff_a, department_a):
    first, second = (
        tell([staff_a], department=department_a, key="a")[0],
        tell([staff_a], department=department_a, key="b")[0],
    )
    services.notification_mark_read(user=staff_a, notification_id=first.pk)
    client.force_login(staff_a)

    unread = client.get(reverse("api-notifications"), {"unread": "true"}).json()["results"]
    read = client.get(reverse("api-notifications"), {"unread": "false"}).json()["results"]

    assert [row["id"] for row in unread] == [second.pk]
    assert [row["id"] for row in read] == [first.pk]
    assert client.get(reverse("api-notifications"), {"level": "9"}).status_code == 400


def test_many_transitions_are_told_in_a_handful_of_queries_each_person_once_per_key(
    staff_a, staff_b, department_a, department_b, duty_officer, django_assert_max_num_queries
):
    tell([staff_a], department=department_a, key="wo:1:dispatched")  # told before
    tellings = [
        services.Telling(
            recipients=(staff_a, duty_officer, staff_b),
            kind=NotificationKind.WORK_ORDER_DISPATCHED,
            level=2,
            key=f"wo:{n}:dispatched",
            data=DATA,
            department_id=department_a.pk,
        )
        for n in range(1, 11)
    ]

    # Departments, roles, preferences, the insert: whatever the number of people and transitions.
    with django_assert_max_num_queries(4):
        made = services.notify_many(tellings)

    assert len(made) == 9 + 10  # alice of the nine new keys, the duty officer of all ten; never bob
    assert Notification.objects.filter(recipient=staff_a).count() == 10
    assert not Notification.objects.filter(recipient=staff_b).exists()
    assert services.notify_many(tellings) == []


# --- A broker that was down: the sweep sends what the commit could not hand over ---


@pytest.fixture
def broker(monkeypatch):
    """The worker's queue as the committing process sees it: down, or taking tasks (kept here)."""
    from notifications import tasks

    queue = {"up": False, "sent": []}

    def delay_of(task):
        def delay(notification_id):
            if not queue["up"]:
                raise ConnectionRefusedError("broker down")
            queue["sent"].append((task.name.rsplit(".", 1)[-1], notification_id))

        return delay

    for task in (tasks.send_notification_email, tasks.send_notification_sms):
        monkeypatch.setattr(task, "delay", delay_of(task))
    return queue


@pytest.fixture
def by_email_and_sms(staff_a):
    """staff_a hears of Level II by e-mail and SMS too."""
    staff_a.email = "alice@gas.example"
    staff_a.save()
    NotificationPreference.objects.create(
        user=staff_a, phone="13800000000", in_app_levels=[2], email_levels=[2], sms_levels=[2]
    )
    return staff_a


def test_an_email_and_sms_the_broker_did_not_take_are_sent_by_the_sweep_once(
    staff_a, department_a, by_email_and_sms, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        (notification,) = tell([staff_a], department=department_a)
    notification.refresh_from_db()
    assert (notification.email_wanted, notification.sms_wanted, notification.queued_at) == (True, True, None)

    # Too fresh: the committing process may still be handing it over.
    assert services.notifications_send_missed() == 0
    later = timezone.now() + timedelta(minutes=2)
    # Still down: nothing is lost, and nothing is marked.
    assert services.notifications_send_missed(now=later) == 0
    broker["up"] = True

    assert services.notifications_send_missed(now=later) == 1
    assert services.notifications_send_missed(now=later) == 0

    assert broker["sent"] == [
        ("send_notification_email", notification.pk),
        ("send_notification_sms", notification.pk),
    ]
    notification.refresh_from_db()
    assert notification.queued_at is not None


def test_the_sweep_sends_only_the_channels_not_sent_and_leaves_old_news_in_the_platform(
    staff_a, department_a, by_email_and_sms, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        (texted,) = tell([staff_a], department=department_a, key="wo:1:dispatched")
        (old,) = tell([staff_a], department=department_a, key="wo:2:dispatched")
    Notification.objects.filter(pk=texted.pk).update(texted_at=timezone.now())
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=13))
    broker["up"] = True

    assert services.notifications_send_missed(now=timezone.now() + timedelta(minutes=2)) == 1

    assert broker["sent"] == [("send_notification_email", texted.pk)]
    assert Notification.objects.get(pk=old.pk).queued_at is None


def test_a_notification_handed_over_at_the_commit_is_not_sent_again_by_the_sweep(
    staff_a, department_a, broker, django_capture_on_commit_callbacks
):
    staff_a.email = "alice@gas.example"
    staff_a.save()
    broker["up"] = True
    with django_capture_on_commit_callbacks(execute=True):
        (notification,) = tell([staff_a], department=department_a)

    assert broker["sent"] == [("send_notification_email", notification.pk)]
    assert services.notifications_send_missed(now=timezone.now() + timedelta(minutes=2)) == 0
    assert broker["sent"] == [("send_notification_email", notification.pk)]
