"""A report photo's checks and its thumbnail, by what the file holds, not by its name.

A phone names a file anything; a browser sends whatever content type the
name suggests. Pillow reads the bytes: the format must be one we show
(JPEG, PNG, WebP), the image must decode to the end, and it must not be a
decompression bomb (a small file that unpacks to gigabytes of pixels).
"""

import io
import uuid
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from citysafety.errors import InvalidInputError, TooLargeError

# Pillow's format name → the content type we serve it with, and the file suffix.
ACCEPTED_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
# Beyond this a photo is a decompression bomb, whatever its file size (about 50 megapixels).
MAX_PIXELS = 50_000_000
THUMBNAIL_SIZE = (320, 320)


@dataclass(frozen=True)
class CheckedPhoto:
    image: ContentFile
    thumbnail: ContentFile
    content_type: str
    size: int
    width: int
    height: int


def photo_check(*, name: str, data: bytes, size: int | None = None) -> CheckedPhoto:
    """Check one uploaded photo and make its thumbnail; raise a refusal that names the file and says why.

    ``size`` is the upload's size when ``data`` was not read because it is too large.
    """
    limit = settings.WORK_ORDER_PHOTO_MAX_BYTES
    size = len(data) if size is None else size
    if size > limit:
        raise TooLargeError(
            _("%(name)s is %(size)s MB; a photo may be at most %(limit)s MB.")
            % {"name": name, "size": _megabytes(size), "limit": _megabytes(limit)},
            field="photo",
        )
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
    )


def _thumbnail(image: Image.Image) -> bytes:
    # Phones store portrait photos sideways with an EXIF orientation tag.
    small = ImageOps.exif_transpose(image)
    small.thumbnail(THUMBNAIL_SIZE)
    if small.mode not in ("RGB", "L"):
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


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
