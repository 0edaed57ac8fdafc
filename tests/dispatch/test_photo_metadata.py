"""A report photo's own time and place (read from its EXIF at upload), the flag for one taken far from the
sensor, thumbnails without any metadata, and sizes in refusals that tell the file from the limit."""

import io
from datetime import UTC, datetime

import pytest
from django.utils import translation
from PIL import ExifTags, Image

from citysafety.errors import TooLargeError
from dispatch.models import ReportPhoto
from dispatch.photos import photo_check
from tests.dispatch.photos import upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("photo_media")]

# About 111.32 km to a degree of latitude.
METRES_PER_DEGREE = 111_320
SECRET = b"phone serial 12345"


def dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))


def exif_jpeg(
    *,
    lon: float | None = 117.23,
    lat: float | None = 31.82,
    taken: str | None = "2026:12:07 09:30:00",
    offset: str | None = None,
    size: tuple[int, int] = (800, 600),
) -> bytes:
    """A real JPEG as a phone writes it: EXIF time and GPS position, a comment, an ICC profile."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = 1
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = offset
    if lat is not None and lon is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = dms(abs(lat))
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = dms(abs(lon))
    out = io.BytesIO()
    Image.new("RGB", size, (90, 120, 30)).save(
        out, format="JPEG", exif=exif, comment=SECRET, icc_profile=b"\0" * 128 + SECRET
    )
    return out.getvalue()


# --- What the photo says of itself ----------------------------------------------


def test_the_time_and_place_a_photo_was_taken_are_read_from_its_exif():
    checked = photo_check(name="valve.jpg", data=exif_jpeg(lon=117.2345, lat=31.8123))

    # No offset in the EXIF: the camera's clock is taken to be on the platform's time (Beijing).
    assert checked.taken_at == datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
    assert checked.taken_location.x == pytest.approx(117.2345, abs=1e-5)
    assert checked.taken_location.y == pytest.approx(31.8123, abs=1e-5)


def test_an_exif_time_offset_is_honoured_and_south_and_west_are_negative():
    checked = photo_check(name="far.jpg", data=exif_jpeg(lon=-70.5, lat=-33.25, offset="-03:00"))

    assert checked.taken_at == datetime(2026, 12, 7, 12, 30, tzinfo=UTC)
    assert (round(checked.taken_location.x, 5), round(checked.taken_location.y, 5)) == (-70.5, -33.25)


@pytest.mark.parametrize(
    "data",
    [
        exif_jpeg(lon=None, lat=None, taken=None),
        exif_jpeg(lat=95.0, taken="not a time"),
        exif_jpeg(taken="0000:00:00 00:00:00", lon=200.0),
        exif_jpeg(taken=None, lon=0.0, lat=0.0),
    ],
    ids=["none", "latitude-95-and-garbled-time", "zero-time-and-longitude-200", "no-fix-at-0-0"],
)
def test_a_photo_without_usable_exif_is_accepted_without_a_time_or_place(data):
    checked = photo_check(name="plain.jpg", data=data)

    assert (checked.taken_at, checked.taken_location) == (None, None)


def test_the_thumbnail_carries_no_metadata_at_all():
    checked = photo_check(name="valve.jpg", data=exif_jpeg())
    thumbnail = checked.thumbnail.read()

    with Image.open(io.BytesIO(thumbnail)) as image:
        assert not image.getexif()
        assert not {"exif", "comment", "icc_profile", "xmp"} & set(image.info)
    assert b"Exif" not in thumbnail
    assert SECRET not in thumbnail
    assert b"PhoneMaker" not in thumbnail


# --- Through the API, with the sensor's distance ---------------------------------


def north_of(sensor, metres: float) -> tuple[float, float]:
    return sensor.location.x, sensor.location.y + metres / METRES_PER_DEGREE


def test_a_photo_taken_5_km_from_the_sensor_is_flagged(client, order_on_site, staff_a, city):
    lon, lat = north_of(city["gas_sensor"], 5000)
    client.force_login(staff_a)

    body = upload(client, order_on_site, "elsewhere.jpg", exif_jpeg(lon=lon, lat=lat)).json()

    assert body["taken_at"] == "2026-12-07T09:30:00+08:00"
    assert body["taken_location"] == {"lon": pytest.approx(lon, abs=1e-5), "lat": pytest.approx(lat, abs=1e-5)}
    assert body["distance_from_sensor"] == pytest.approx(5000, rel=0.01)
    assert body["far_from_sensor"] is True
    order = client.get(f"/api/v1/work-orders/{order_on_site.pk}/").json()
    assert order["photos"][0]["far_from_sensor"] is True


def test_a_photo_taken_beside_the_sensor_is_not_flagged_and_the_distance_is_configurable(
    client, order_on_site, staff_a, city, settings
):
    client.force_login(staff_a)
    near = upload(
        client,
        order_on_site,
        "near.jpg",
        exif_jpeg(lon=north_of(city["gas_sensor"], 100)[0], lat=north_of(city["gas_sensor"], 100)[1]),
    ).json()
    assert (round(near["distance_from_sensor"]), near["far_from_sensor"]) == (100, False)

    settings.WORK_ORDER_PHOTO_FAR_METRES = 50
    order = client.get(f"/api/v1/work-orders/{order_on_site.pk}/").json()
    assert order["photos"][0]["far_from_sensor"] is True


def test_a_photo_without_a_place_has_no_distance_and_no_flag(client, order_on_site, staff_a):
    client.force_login(staff_a)

    body = upload(client, order_on_site, "plain.jpg", exif_jpeg(lon=None, lat=None, taken=None)).json()

    assert (body["taken_at"], body["taken_location"], body["distance_from_sensor"], body["far_from_sensor"]) == (
        None,
        None,
        None,
        False,
    )


def test_the_original_keeps_its_exif_as_evidence_for_those_with_rights_only(
    client, order_on_site, staff_a, staff_b, duty_officer
):
    client.force_login(staff_a)
    body = upload(client, order_on_site, "valve.jpg", exif_jpeg()).json()
    photo = ReportPhoto.objects.get()
    assert photo.taken_location is not None

    client.force_login(duty_officer)
    original = b"".join(client.get(body["url"]).streaming_content)
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    seen = client.get(f"/api/v1/work-orders/{order_on_site.pk}/").json()["photos"][0]
    assert seen["taken_location"] is not None

    # Another department sees neither the order, its photos' places, nor the files.
    client.force_login(staff_b)
    assert client.get(f"/api/v1/work-orders/{order_on_site.pk}/").status_code == 404
    listed = client.get("/api/v1/work-orders/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert order_on_site.pk not in [row["id"] for row in rows]
    assert client.get(body["url"]).status_code == 404
    assert client.get(body["thumbnail_url"]).status_code == 404


# --- Sizes in a refusal ------------------------------------------------------------


def refusal(size: int, settings, language: str = "en") -> str:
    settings.WORK_ORDER_PHOTO_MAX_BYTES = 10 * 1024 * 1024
    with translation.override(language), pytest.raises(TooLargeError) as refused:
        photo_check(name="big.jpg", data=b"", size=size)
    return str(refused.value)


def test_a_file_one_byte_over_the_limit_is_told_in_bytes_so_the_sizes_differ(settings):
    assert refusal(10 * 1024 * 1024 + 1, settings) == (
        "big.jpg is 10,485,761 bytes; a photo may be at most 10,485,760 bytes (10 MB)."
    )
    assert refusal(10 * 1024 * 1024 + 1, settings, "zh-hans") == (
        "big.jpg 大小为 10485761 字节；每张照片最大 10485760 字节（10 MB）。"  # noqa: RUF001
    )


def test_a_file_well_over_the_limit_is_told_in_megabytes_with_one_decimal(settings):
    assert refusal(int(10.5 * 1024 * 1024), settings) == "big.jpg is 10.5 MB; a photo may be at most 10 MB."
    assert refusal(12 * 1024 * 1024, settings) == "big.jpg is 12.0 MB; a photo may be at most 10 MB."


# --- A count in an API refusal ------------------------------------------------------


@pytest.mark.parametrize(
    ("done_actions", "message"),
    [
        (["x"], "Item 1 is not a whole number (an id)."),
        (["x", 3, "y"], "Items 1, 3 are not whole numbers (ids)."),
    ],
)
def test_a_refused_list_of_ids_counts_its_items(client, order_on_site, staff_a, done_actions, message):
    client.force_login(staff_a)

    response = client.post(
        f"/api/v1/work-orders/{order_on_site.pk}/report/",
        {"report": "Valve closed.", "done_actions": done_actions},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["done_actions"] == [message]


def test_the_time_an_editor_saved_the_file_is_not_the_time_it_was_taken():
    exif = Image.Exif()
    exif[ExifTags.Base.DateTime] = "2026:12:24 18:00:00"  # written by the editing program
    out = io.BytesIO()
    Image.new("RGB", (64, 48)).save(out, format="JPEG", exif=exif)

    assert photo_check(name="edited.jpg", data=out.getvalue()).taken_at is None
