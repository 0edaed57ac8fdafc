"""A report photo's checks and its thumbnail, by what the file holds, not by its name.

A phone names a file anything; a browser sends whatever content type the
name suggests. Pillow reads the bytes: the format must be one we show
(JPEG, PNG, WebP), the image must decode to the end, and it must not be a
decompression bomb (a small file that unpacks to gigabytes of pixels).

The photo's own time and place come from its EXIF; the original keeps them
as evidence, the thumbnail keeps nothing but pixels (docs/photos.md).
"""

import io
import math
import re
import uuid
import warnings
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from citysafety.errors import InvalidInputError, TooLargeError

# Pillow's format name → the content type we serve it with, and the file suffix.
ACCEPTED_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
# Beyond this a photo is a decompression bomb, whatever its file size (about 50 megapixels).
MAX_PIXELS = 50_000_000
THUMBNAIL_SIZE = (320, 320)
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class CheckedPhoto:
    image: ContentFile
    thumbnail: ContentFile
    content_type: str
    size: int
    width: int
    height: int
    # What the photo says of itself (EXIF), when it says it plainly: None otherwise.
    taken_at: datetime | None = None
    taken_location: Point | None = None


def photo_check(*, name: str, data: bytes, size: int | None = None) -> CheckedPhoto:
    """Check one uploaded photo and make its thumbnail; raise a refusal that names the file and says why.

    ``size`` is the upload's size when ``data`` was not read because it is too large.
    """
    limit = settings.WORK_ORDER_PHOTO_MAX_BYTES
    size = len(data) if size is None else size
    if size > limit:
        raise TooLargeError(_too_large(name, size, limit), field="photo")
    if not data:
        raise InvalidInputError(_("%(name)s is empty.") % {"name": name}, field="photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                image_format = probe.format
                width, height = probe.size
                if image_format in ACCEPTED_FORMATS and width * height > MAX_PIXELS:
                    raise InvalidInputError(
                        _("%(name)s has %(width)s by %(height)s pixels, more than a photo may have.")
                        % {"name": name, "width": width, "height": height},
                        field="photo",
                    )
                if image_format in ACCEPTED_FORMATS:
                    # verify() reads the whole stream: a truncated or garbled file fails here.
                    probe.verify()
            if image_format in ACCEPTED_FORMATS:
                with Image.open(io.BytesIO(data)) as image:
                    image.load()
                    taken_at, taken_location = _taken(image)
                    thumbnail = _thumbnail(image)
    except UnidentifiedImageError:
        raise InvalidInputError(
            _("%(name)s is not an image; send a JPEG, PNG or WebP photo.") % {"name": name}, field="photo"
        ) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInputError(
            _("%(name)s has more pixels than a photo may have.") % {"name": name}, field="photo"
        ) from None
    except (OSError, SyntaxError, ValueError):
        # What Pillow raises for a file that starts as an image and then breaks off or garbles.
        raise InvalidInputError(
            _("%(name)s is damaged or incomplete and cannot be read as an image.") % {"name": name}, field="photo"
        ) from None
    if image_format not in ACCEPTED_FORMATS:
        raise InvalidInputError(
            _("%(name)s is a %(format)s image; send a JPEG, PNG or WebP photo.")
            % {"name": name, "format": image_format},
            field="photo",
        )
    content_type, suffix = ACCEPTED_FORMATS[image_format]
    stem = uuid.uuid4().hex
    return CheckedPhoto(
        image=ContentFile(data, name=f"{stem}.{suffix}"),
        thumbnail=ContentFile(thumbnail, name=f"{stem}-thumb.jpg"),
        content_type=content_type,
        size=len(data),
        width=width,
        height=height,
        taken_at=taken_at,
        taken_location=taken_location,
    )


def _thumbnail(image: Image.Image) -> bytes:
    # Phones store portrait photos sideways with an EXIF orientation tag.
    small = ImageOps.exif_transpose(image)
    small.thumbnail(THUMBNAIL_SIZE)
    if small.mode not in ("RGB", "L"):
        small = small.convert("RGB")
    # Pixels only: a new image from the bytes carries no EXIF (GPS, device),
    # comment, ICC profile or XMP, whatever Pillow would copy on saving.
    bare = Image.frombytes(small.mode, small.size, small.tobytes())
    out = io.BytesIO()
    bare.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _too_large(name: str, size: int, limit: int) -> str:
    """The refusal of a file over the limit, with two sizes a reader can tell apart.

    In megabytes with one decimal (the limit as set, "10 MB"); in bytes when
    the file would read as the limit ("10.0 MB" for 10 MB and one byte).
    """
    size_mb, limit_mb = f"{size / MEGABYTE:.1f}", f"{limit / MEGABYTE:.1f}"
    if size_mb != limit_mb:
        return _("%(name)s is %(size)s MB; a photo may be at most %(limit)s MB.") % {
            "name": name,
            "size": size_mb,
            "limit": limit_mb.removesuffix(".0"),
        }
    return ngettext(
        "%(name)s is %(size)s byte; a photo may be at most %(limit)s bytes (%(limit_mb)s MB).",
        "%(name)s is %(size)s bytes; a photo may be at most %(limit)s bytes (%(limit_mb)s MB).",
        size,
    ) % {
        "name": name,
        "size": number_format(size, force_grouping=True),
        "limit": number_format(limit, force_grouping=True),
        "limit_mb": limit_mb.removesuffix(".0"),
    }


# --- The photo's own time and place ------------------------------------------------

_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


def _taken(image: Image.Image) -> tuple[datetime | None, Point | None]:
    """When and where the photo was taken, as its EXIF says; None for what it does not say plainly.

    A phone may write nonsense (a zero date, a latitude of 95): that is no
    reason to refuse the photo, only to record no time or place for it.
    """
    try:
        exif = image.getexif()
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # a garbled EXIF block is the phone's fault, not the photo's
        return None, None
    return _taken_at(details), _taken_location(gps)


def _taken_at(details: dict) -> datetime | None:
    # When the shutter opened (else when the picture was digitised); never the
    # file's DateTime, which an editing program moves to when it saved.
    raw = details.get(ExifTags.Base.DateTimeOriginal) or details.get(ExifTags.Base.DateTimeDigitized)
    match = _EXIF_TIME.fullmatch(str(raw or "").strip("\0 "))
    if not match:
        return None
    try:
        local = datetime(*(int(part) for part in match.groups()))  # noqa: DTZ001 - the zone is set below
    except ValueError:
        return None
    # EXIF 2.31 adds the offset; without it the camera's clock is taken to
    # keep the platform's time (a phone in the city keeps Beijing time).
    offset = _EXIF_OFFSET.fullmatch(str(details.get(ExifTags.Base.OffsetTimeOriginal) or "").strip("\0 "))
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        zone = timezone(-delta if sign == "-" else delta)
    else:
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _taken_location(gps: dict) -> Point | None:
    lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
    lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None  # what some phones write when they had no fix: the sea off West Africa, never a city's street
    return Point(lon, lat, srid=4326)


def _degrees(value, ref, negative: str) -> float | None:
    """EXIF's degrees, minutes and seconds (three rationals) as signed decimal degrees."""
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(result):
        return None
    ref = ref.decode(errors="replace") if isinstance(ref, bytes) else str(ref or "")
    return -result if ref.strip("\0 ").upper() == negative else result


def photo_files_delete(sender, instance, **kwargs) -> None:
    """A photo row gone (removed from a report, or with its order or warning) takes its files with it.

    After the commit, so a rolled-back deletion keeps the files its rows still name.
    """
    names = [instance.image.name, instance.thumbnail.name]
    transaction.on_commit(lambda: files_delete(names))


def files_delete(names) -> None:
    for name in names:
        if name:
            default_storage.delete(name)
