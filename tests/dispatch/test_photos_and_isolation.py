"""Report photos through the API (checked by content, stored with a
thumbnail, served only to those who may see the order), and department
isolation on every new endpoint."""

import io

import pytest
from django.db import transaction
from PIL import Image

from dispatch import services
from dispatch.models import ReportPhoto, WorkOrderStatus
from tests.dispatch.photos import upload
from warning.models import Warning

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("photo_media")]


def image_bytes(image_format: str = "JPEG", size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 30)).save(out, format=image_format)
    return out.getvalue()


def test_a_photo_is_stored_with_a_thumbnail_and_shown_on_the_order(client, order_on_site, staff_a, media):
    client.force_login(staff_a)

    response = upload(client, order_on_site, "valve.jpg", image_bytes())

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["content_type"], body["width"], body["height"]) == ("valve.jpg", "image/jpeg", 800, 600)
    photo = ReportPhoto.objects.get()
    assert (media / photo.image.name).is_file()
    with Image.open(media / photo.thumbnail.name) as thumbnail:
        assert max(thumbnail.size) == 320
    order = client.get(f"/api/v1/work-orders/{order_on_site.pk}/").json()
    assert [p["id"] for p in order["photos"]] == [photo.pk]
    served = client.get(body["thumbnail_url"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert b"".join(served.streaming_content).startswith(b"\xff\xd8")


def test_the_type_comes_from_the_content_not_the_name(client, order_on_site, staff_a):
    client.force_login(staff_a)

    response = upload(client, order_on_site, "looks-like.jpg", image_bytes("PNG"))

    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"
    assert client.get(response.json()["url"])["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("name", "data", "status", "message"),
    [
        ("notes.jpg", b"This is a text file, not a photo.\n" * 20, 400, "notes.jpg is not an image"),
        ("cut.jpg", image_bytes()[:400], 400, "cut.jpg is damaged or incomplete"),
        ("anim.gif", image_bytes("GIF"), 400, "anim.gif is a GIF image; send a JPEG, PNG or WebP photo."),
        ("empty.jpg", b"", 400, "empty.jpg is empty."),
    ],
)
def test_a_wrong_type_or_corrupt_file_gets_a_clear_refusal_and_the_order_is_untouched(
    client, order_on_site, staff_a, name, data, status, message
):
    client.force_login(staff_a)

    response = upload(client, order_on_site, name, data)

    assert response.status_code == status
    assert message in " ".join(response.json()["photo"])
    assert not ReportPhoto.objects.exists()
    # The report goes on as if nothing happened.
    reported = client.post(
        f"/api/v1/work-orders/{order_on_site.pk}/report/", {"report": "Valve closed."}, content_type="application/json"
    )
    assert reported.json()["report"] == "Valve closed."


def test_an_oversized_photo_is_refused_by_its_size(client, order_on_site, staff_a, settings):
    settings.WORK_ORDER_PHOTO_MAX_BYTES = 2 * 1024 * 1024
    client.force_login(staff_a)

    response = upload(client, order_on_site, "huge.png", b"\x89PNG" + b"\0" * (3 * 1024 * 1024))

    assert response.status_code == 413
    assert response.json()["photo"] == ["huge.png is 3.0 MB; a photo may be at most 2 MB."]
    assert not ReportPhoto.objects.exists()


def test_a_seventh_photo_is_refused_and_one_can_be_removed(
    client, order_on_site, staff_a, media, django_capture_on_commit_callbacks
):
    client.force_login(staff_a)
    for n in range(6):
        assert upload(client, order_on_site, f"p{n}.jpg", image_bytes(size=(40, 30))).status_code == 201

    seventh = upload(client, order_on_site, "p6.jpg", image_bytes(size=(40, 30)))

    assert seventh.status_code == 409
    assert "at most 6 photos" in seventh.json()["detail"]
    first = ReportPhoto.objects.first()
    stored = media / first.image.name
    with django_capture_on_commit_callbacks(execute=True):
        removed = client.delete(f"/api/v1/work-orders/{order_on_site.pk}/photos/{first.pk}/")
    assert removed.status_code == 204
    assert not stored.exists()
    assert upload(client, order_on_site, "p6.jpg", image_bytes(size=(40, 30))).status_code == 201


def _delete_then_fail(warning_id: int) -> None:
    with transaction.atomic():
        Warning.objects.get(pk=warning_id).delete()
        raise RuntimeError("rolled back")


def test_deleting_an_order_with_its_warning_deletes_its_photo_files_after_the_commit(
    client, order_on_site, staff_a, media, django_capture_on_commit_callbacks
):
    client.force_login(staff_a)
    for n in range(2):
        assert upload(client, order_on_site, f"p{n}.jpg", image_bytes(size=(40, 30))).status_code == 201
    stored = [media / name for photo in ReportPhoto.objects.all() for name in (photo.image.name, photo.thumbnail.name)]
    assert len(stored) == 4
    assert all(path.is_file() for path in stored)

    # A deletion that rolls back keeps the files its rows still name.
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError, match="rolled back"):
        _delete_then_fail(order_on_site.warning_id)
    assert ReportPhoto.objects.count() == 2
    assert all(path.is_file() for path in stored)

    with django_capture_on_commit_callbacks(execute=True):
        Warning.objects.get(pk=order_on_site.warning_id).delete()

    assert not ReportPhoto.objects.exists()
    assert not any(path.exists() for path in stored)


def test_photos_are_refused_once_the_report_is_sent(client, order_on_site, staff_a):
    client.force_login(staff_a)
    services.work_order_report(work_order_id=order_on_site.pk, user=staff_a, report="Done")

    response = upload(client, order_on_site, "late.jpg", image_bytes())

    assert response.status_code == 409
    assert "Photos can be added only while the work order is being handled" in response.json()["detail"]


def test_a_photo_is_served_only_to_those_who_may_see_its_order(client, order_on_site, staff_a, staff_b, duty_officer):
    client.force_login(staff_a)
    body = upload(client, order_on_site, "valve.jpg", image_bytes()).json()

    client.force_login(duty_officer)
    assert client.get(body["url"]).status_code == 200
    client.force_login(staff_b)
    assert client.get(body["url"]).status_code == 404
    assert client.get(body["thumbnail_url"]).status_code == 404
    client.logout()
    assert client.get(body["url"]).status_code == 302  # to the login page
    assert client.get("/work-orders/photos/999999/").status_code == 302


# --- Department isolation, one test per endpoint ---------------------------------

DEPARTMENT_STEPS = [
    ("on-site", {}),
    ("assign", {"assignee": None}),
    ("report", {"report": "x"}),
    ("return", {"reason": "x"}),
]


@pytest.mark.parametrize(("step", "body"), DEPARTMENT_STEPS, ids=[s for s, _ in DEPARTMENT_STEPS])
def test_another_departments_staff_get_a_404_from_each_step(client, order_on_site, staff_b, step, body):
    client.force_login(staff_b)

    response = client.post(f"/api/v1/work-orders/{order_on_site.pk}/{step}/", body, content_type="application/json")

    assert response.status_code == 404
    assert response.json()["detail"] == "No such work order for your department."
    order_on_site.refresh_from_db()
    assert order_on_site.status == WorkOrderStatus.ON_SITE
    assert order_on_site.events.count() == 3


def test_another_departments_staff_cannot_add_or_remove_photos(client, order_on_site, staff_a, staff_b):
    client.force_login(staff_a)
    photo = upload(client, order_on_site, "valve.jpg", image_bytes()).json()
    client.force_login(staff_b)

    assert upload(client, order_on_site, "mine.jpg", image_bytes()).status_code == 404
    assert client.delete(f"/api/v1/work-orders/{order_on_site.pk}/photos/{photo['id']}/").status_code == 404
    assert ReportPhoto.objects.count() == 1


DUTY_STEPS = [
    ("transfer", {"department": 0, "reason": "x"}),
    ("redispatch", {}),
    ("verify", {"accept": True}),
]


@pytest.mark.parametrize(("step", "body"), DUTY_STEPS, ids=[s for s, _ in DUTY_STEPS])
def test_department_staff_may_not_take_the_duty_officers_steps(client, order_on_site, staff_a, step, body):
    client.force_login(staff_a)

    response = client.post(f"/api/v1/work-orders/{order_on_site.pk}/{step}/", body, content_type="application/json")

    assert response.status_code == 403
    order_on_site.refresh_from_db()
    assert order_on_site.status == WorkOrderStatus.ON_SITE


def test_the_duty_officer_transfers_through_the_api_and_each_department_sees_its_part(
    client, order_on_site, staff_a, staff_b, duty_officer
):
    client.force_login(duty_officer)
    transferred = client.post(
        f"/api/v1/work-orders/{order_on_site.pk}/transfer/",
        {"department": staff_b.membership.department_id, "reason": "Water main."},
        content_type="application/json",
    )
    assert transferred.status_code == 200
    new = transferred.json()
    assert new["department"]["name"] == "Water company"
    assert new["transferred_from"] == {"id": order_on_site.pk, "department": "Gas company"}

    client.force_login(staff_a)
    history = client.get("/api/v1/work-orders/?open=false").json()["results"]
    assert [(o["id"], o["status"]) for o in history] == [(order_on_site.pk, "transferred")]
    assert history[0]["transferred_to"] == {"id": new["id"], "department": "Water company"}
    assert client.get(f"/api/v1/work-orders/{new['id']}/").status_code == 404
    assert client.get("/api/v1/work-orders/?open=true").json()["count"] == 0

    client.force_login(staff_b)
    assert [o["id"] for o in client.get("/api/v1/work-orders/?open=true").json()["results"]] == [new["id"]]
    assert client.get(f"/api/v1/work-orders/{order_on_site.pk}/").status_code == 404


def test_a_refused_transition_is_a_409_that_says_what_happened(client, order_on_site, staff_a):
    client.force_login(staff_a)

    again = client.post(f"/api/v1/work-orders/{order_on_site.pk}/acknowledge/", {}, content_type="application/json")

    assert again.status_code == 409
    # The order moved on since: the answer says to what, and who moved it.
    assert again.json()["detail"].startswith("alice marked this work order on site at ")
    assert again.json()["detail"].endswith("It can no longer be acknowledged.")


def test_the_department_page_offers_its_people_and_the_new_steps(client, order_on_site, staff_a):
    client.force_login(staff_a)

    page = client.get("/work-orders/")

    config = page.context["config"]
    assert [p["name"] for p in config["people"]] == ["alice"]
    assert config["urls"]["onSite"] == "/api/v1/work-orders/0/on-site/"
    assert config["workOrderFlow"]["inHand"] == ["pending", "acknowledged", "on_site"]
