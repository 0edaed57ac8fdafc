"""The surroundings in admin: the import page per layer, and a place's district from where it lies."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from surroundings.models import Camera, ProtectionTarget


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_the_import_page_lists_refused_rows_with_their_problems_and_keeps_the_good_ones(admin_client, city):
    data = (
        "code,name,kind,longitude,latitude\n"
        "S-1,<b>School</b>,school,117.1,31.8\nS-2,,school,117.1,31.8\nS-3,Swapped,school,31.85,117.3\n"
    )
    upload = SimpleUploadedFile("targets.csv", data.encode("gb18030"))
    page = admin_client.post("/admin/surroundings/protectiontarget/import/", {"file": upload})
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 created; 0 updated; 0 unchanged; 2 rows refused" in html
    assert "<li>Row 3" in html
    assert "Column “name”: is empty; it is required." in html
    assert "Longitude and latitude seem swapped" in html
    assert ProtectionTarget.objects.get(code="S-1").name == "<b>School</b>"
    listing = admin_client.get("/admin/surroundings/protectiontarget/").content.decode()
    assert "&lt;b&gt;School&lt;/b&gt;" in listing
    assert "<b>School</b>" not in listing


def test_a_file_that_cannot_be_read_is_refused_on_the_form(admin_client, city):
    upload = SimpleUploadedFile("targets.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old")
    page = admin_client.post("/admin/surroundings/camera/import/", {"file": upload})
    assert "Old Excel files (.xls) are not read" in page.content.decode()


@pytest.mark.parametrize("persona", ["staff_a", "duty_officer"])
def test_people_without_admin_rights_cannot_import(client, request, persona, city):
    client.force_login(request.getfixturevalue(persona))
    page = client.get("/admin/surroundings/protectiontarget/import/")
    assert page.status_code in (302, 403)
    assert "places-import-form" not in page.content.decode()


def test_a_camera_added_in_admin_takes_its_district_and_refuses_a_point_outside(admin_client, city):
    fields = {"code": "C-1", "name": "Gate", "stream_url": "https://video.example.cn/c1.m3u8"}
    outside = admin_client.post(
        "/admin/surroundings/camera/add/",
        {**fields, "location": json.dumps({"type": "Point", "coordinates": [31.85, 117.3]})},
    )
    assert "Longitude and latitude seem swapped" in outside.content.decode()
    assert not Camera.objects.exists()
    bad_url = admin_client.post(
        "/admin/surroundings/camera/add/",
        {
            **fields,
            "stream_url": "ftp://video.example.cn/c1",
            "location": json.dumps({"type": "Point", "coordinates": [117.3, 31.85]}),
        },
    )
    assert "Give an http:// or https:// address." in bad_url.content.decode()
    admin_client.post(
        "/admin/surroundings/camera/add/",
        {**fields, "location": json.dumps({"type": "Point", "coordinates": [117.3, 31.85]})},
    )
    assert Camera.objects.get(code="C-1").district.name == "Baohe"
