"""The surroundings' writes: importing a sheet or a GeoJSON file of places.

One import takes CSV (UTF-8 or GB18030) and Excel through the shared table
reader (``citysafety.tables``), and GeoJSON FeatureCollections here. Each
row or feature is checked on its own: a bad one is listed with what is
wrong with it (row or feature, column or property, why) and the good ones
are stored. A row is found again by its ``code``, so importing the same
file twice updates nothing the second time.
"""

import datetime
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings
from django.contrib.gis.gdal.error import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, LinearRing, MultiPolygon, Point, Polygon
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citysafety.errors import InvalidInputError
from citysafety.tables import Row, RowError, TableError, errors_by_row, table_format, table_read
from monitoring.locations import district_at, districts_at, outside_message
from surroundings.choices import ResourceKind, RiskAreaKind, RiskGrade, TargetKind
from surroundings.models import (
    LAYERS,
    Camera,
    EmergencyResource,
    Place,
    ProtectionTarget,
    RiskArea,
    stream_url_validator,
)

GEOJSON_SUFFIXES = ("geojson", "json")


class FeatureError(RowError):
    """What is wrong with one property (or the geometry) of a GeoJSON feature, numbered from 1."""

    def __str__(self) -> str:
        if self.column:
            return _("Feature %(feature)d, property “%(property)s”: %(message)s") % {
                "feature": self.row,
                "property": self.column,
                "message": self.message,
            }
        return _("Feature %(feature)d: %(message)s") % {"feature": self.row, "message": self.message}

    @property
    def problem(self) -> str:
        if self.column:
            return _("Property “%(property)s”: %(message)s") % {"property": self.column, "message": self.message}
        return self.message


class CellError(ValueError):
    """A cell's value cannot be taken; ``str()`` says why."""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    features: bool = False  # the file was GeoJSON: errors name features, not rows
    errors: list[RowError] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len({error.row for error in self.errors})

    def refused_by_row(self) -> list[tuple[str, list[RowError]]]:
        """The errors under the heading of their row (or feature)."""
        if self.features:
            return [(_("Feature %(number)d") % {"number": n}, errors) for n, errors in errors_by_row(self.errors)]
        return [(_("Row %(number)d") % {"number": n}, errors) for n, errors in errors_by_row(self.errors)]

    def summary(self) -> str:
        parts = [
            ngettext("%(count)d created", "%(count)d created", self.created) % {"count": self.created},
            ngettext("%(count)d updated", "%(count)d updated", self.updated) % {"count": self.updated},
            ngettext("%(count)d unchanged", "%(count)d unchanged", self.unchanged) % {"count": self.unchanged},
        ]
        if self.features:
            parts.append(
                ngettext("%(count)d feature refused", "%(count)d features refused", self.refused)
                % {"count": self.refused}
            )
        else:
            parts.append(
                ngettext("%(count)d row refused", "%(count)d rows refused", self.refused) % {"count": self.refused}
            )
        return _("; ").join(parts)


# --- Cells ------------------------------------------------------------------------------


def _text(value: object, *, required: bool = False, max_length: int = 200) -> str:
    text = "" if value is None else (str(int(value)) if isinstance(value, float) and value.is_integer() else str(value))
    text = text.strip()
    if required and not text:
        raise CellError(_("is empty; it is required."))
    if len(text) > max_length:
        raise CellError(_("is longer than %(max)d characters.") % {"max": max_length})
    return text


def _whole(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except ValueError:
        raise CellError(_("“%(value)s” is not a whole number.") % {"value": value}) from None
    if not math.isfinite(number) or not number.is_integer() or number < 0:
        raise CellError(_("“%(value)s” is not a whole number of 0 or more.") % {"value": value})
    return int(number)


def _coordinate(value: object) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CellError(_("is empty; it is required."))
    try:
        number = float(value) if isinstance(value, int | float) else float(str(value).strip())
    except ValueError:
        raise CellError(_("“%(value)s” is not a number of degrees.") % {"value": value}) from None
    if not math.isfinite(number):
        raise CellError(_("“%(value)s” is not a number of degrees.") % {"value": value})
    return number


def _choice(choices: type, extra: dict[str, object] | None = None) -> Callable[[object], object]:
    """A parser taking a choice's value, or its label in any of the platform's languages."""

    @functools.cache
    def accepted() -> dict[str, object]:
        # Built once a process: the labels are the same in every request.
        names: dict[str, object] = {str(c.value).lower(): c.value for c in choices}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                for c in choices:
                    names[str(c.label).lower()] = c.value
                    names[str(c.short_label).lower()] = c.value
        names.update({k.lower(): v for k, v in (extra or {}).items()})
        return names

    def parse(value: object) -> object:
        text = _text(value, required=True).lower()
        names = accepted()
        if text in names:
            return names[text]
        return _raise_choice(text, choices)

    return parse


def _raise_choice(text: str, choices: type) -> object:
    raise CellError(
        _("“%(value)s” is not one of %(choices)s.")
        % {"value": text, "choices": _(", ").join(f"{c.value} ({c.label})" for c in choices)}
    )


def _date(value: object) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _text(value, required=True)
    try:
        return datetime.date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise CellError(_("“%(value)s” is not a date such as 2026-03-31.") % {"value": text}) from None


def _stock(value: object) -> dict[str, int]:
    """A depot's stock: an object {item: quantity} (GeoJSON) or ``item:quantity; item:quantity`` (a sheet)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        pairs = []
        for part in str(value).replace("\uff1b", ";").split(";"):
            if not part.strip():
                continue
            item, sep, quantity = part.replace("\uff1a", ":").rpartition(":")
            if not sep or not item.strip():
                raise CellError(
                    _("“%(part)s” is not item:quantity; write the stock as tents:200; water (boxes):500.")
                    % {"part": part.strip()}
                )
            pairs.append((item.strip(), quantity))
    stock = {}
    for item, quantity in pairs:
        try:
            stock[str(item)] = _whole(quantity)
        except CellError:
            raise CellError(
                _("The quantity of “%(item)s” (“%(quantity)s”) is not a whole number of 0 or more.")
                % {"item": item, "quantity": quantity}
            ) from None
        if stock[str(item)] is None:
            raise CellError(_("The quantity of “%(item)s” is empty.") % {"item": item})
    return stock


def _stream_url(value: object) -> str:
    text = _text(value, required=True, max_length=500)
    try:
        stream_url_validator(text)
    except ValidationError:
        raise CellError(_("“%(value)s” is not an http:// or https:// address.") % {"value": text}) from None
    return text


def wound(geometry: Polygon | MultiPolygon) -> MultiPolygon:
    """The polygons with outer rings counter-clockwise and holes clockwise (RFC 7946), whichever way they came."""
    polygons = [geometry] if isinstance(geometry, Polygon) else list(geometry)
    result = []
    for polygon in polygons:
        rings = []
        for index, ring in enumerate(polygon):
            coordinates = list(ring.coords)
            if ring.is_counterclockwise != (index == 0):
                coordinates.reverse()
            rings.append(LinearRing(coordinates))
        result.append(Polygon(*rings))
    return MultiPolygon(*result, srid=4326)


# --- Layers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    attribute: str
    parse: Callable[[object], object]


COMMON = (
    Column("name", "name", lambda v: _text(v, required=True)),
    Column("address", "address", lambda v: _text(v, max_length=300)),
    Column("contact_name", "contact_name", lambda v: _text(v, max_length=100)),
    Column("contact_phone", "contact_phone", lambda v: _text(v, max_length=50)),
)
COLUMNS: dict[type[Place], tuple[Column, ...]] = {
    ProtectionTarget: (Column("kind", "kind", _choice(TargetKind)), Column("capacity", "capacity", _whole)),
    EmergencyResource: (
        Column("kind", "kind", _choice(ResourceKind)),
        Column("team_size", "team_size", _whole),
        Column("speciality", "speciality", _text),
        Column("stock", "stock", _stock),
    ),
    RiskArea: (
        Column("kind", "kind", _choice(RiskAreaKind)),
        Column("grade", "grade", _choice(RiskGrade, {c.colour.name: c.value for c in RiskGrade})),
        Column("assessed_on", "assessed_on", _date),
    ),
    Camera: (Column("stream_url", "stream_url", _stream_url),),
}


def import_columns(model: type[Place]) -> list[str]:
    """The columns (properties) a file of this layer has, in order."""
    geometry = ["geometry"] if model is RiskArea else ["longitude", "latitude"]
    return ["code", *[c.name for c in COMMON], *[c.name for c in COLUMNS[model]], *geometry]


def _geometry_from_text(value: object) -> GEOSGeometry:
    if isinstance(value, dict):
        value = json.dumps(value)
    text = _text(value, required=True, max_length=10_000_000)
    try:
        geometry = GEOSGeometry(text, srid=4326)
    except (GEOSException, GDALException, ValueError, TypeError):
        raise CellError(_("is neither WKT nor a GeoJSON geometry.")) from None
    if geometry.srid != 4326:
        geometry.srid = 4326
    return geometry


@dataclass
class _Parsed:
    number: int
    code: str
    values: dict[str, object]
    point: Point | None = None


def _parse(model: type[Place], row: Row, error: type[RowError]) -> tuple[_Parsed | None, list[RowError]]:
    cells, errors, values = row.cells, [], {}
    try:
        code = _text(cells.get("code"), required=True, max_length=64)
    except CellError as exc:
        errors.append(error(row.number, "code", str(exc)))
        code = ""
    for column in (*COMMON, *COLUMNS[model]):
        try:
            values[column.attribute] = column.parse(cells.get(column.name))
        except CellError as exc:
            errors.append(error(row.number, column.name, str(exc)))
    point = None
    if model is RiskArea:
        try:
            geometry = _geometry_from_text(cells.get("geometry"))
            if not isinstance(geometry, Polygon | MultiPolygon):
                raise CellError(
                    _("is a %(type)s; a risk area is a Polygon or a MultiPolygon.") % {"type": geometry.geom_type}
                )
            boundary = wound(geometry)
            if not boundary.valid:
                raise CellError(_("is not a valid polygon: %(reason)s.") % {"reason": boundary.valid_reason})
            inside = boundary.point_on_surface
            district = district_at(inside)
            if district is None:
                raise CellError(outside_message(inside))
            values.update(boundary=boundary, district=district)
        except CellError as exc:
            errors.append(error(row.number, "geometry", str(exc)))
    elif "geometry" in cells:  # a GeoJSON feature
        try:
            geometry = _geometry_from_text(cells.get("geometry"))
            if not isinstance(geometry, Point):
                raise CellError(_("is a %(type)s; this layer's places are Points.") % {"type": geometry.geom_type})
            point = geometry
        except CellError as exc:
            errors.append(error(row.number, "geometry", str(exc)))
    else:
        coordinates = []
        for name in ("longitude", "latitude"):
            try:
                coordinates.append(_coordinate(cells.get(name)))
            except CellError as exc:
                errors.append(error(row.number, name, str(exc)))
        if len(coordinates) == 2:
            point = Point(*coordinates, srid=4326)
    if errors:
        return None, errors
    return _Parsed(row.number, code, values, point), []


def _geojson_rows(data: bytes) -> list[Row]:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise TableError(_("The file is not GeoJSON: GeoJSON is UTF-8 text.")) from None
    except json.JSONDecodeError as exc:
        raise TableError(
            _("The file is not GeoJSON: line %(line)d, column %(column)d is not JSON (%(reason)s).")
            % {"line": exc.lineno, "column": exc.colno, "reason": exc.msg}
        ) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise TableError(_("The file is JSON but not a GeoJSON FeatureCollection."))
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise TableError(_("The FeatureCollection holds no features."))
    rows = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            rows.append(Row(number, {"": None}))
            continue
        properties = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        cells = {str(k).strip().lower(): v for k, v in properties.items()}
        cells["geometry"] = feature.get("geometry")
        rows.append(Row(number, cells))
    return rows


def places_import(*, layer: str, data: bytes, name: str, kind: str | None = None) -> ImportResult:
    """Import the places of one layer (``surroundings.models.LAYERS``) from a CSV, Excel or GeoJSON file.

    Raises TableError when the file as a whole cannot be read.
    """
    model = LAYERS[layer]
    suffix = PurePath(name).suffix.lower().lstrip(".")
    result = ImportResult()
    if kind == "geojson" or (not kind and suffix in GEOJSON_SUFFIXES):
        rows, error, result.features = _geojson_rows(data), FeatureError, True
    else:
        rows, error = table_read(data, kind=table_format(name, kind)).rows, RowError
    parsed: list[_Parsed] = []
    seen: dict[str, int] = {}
    for row in rows:
        if "" in row.cells and len(row.cells) == 1:
            result.errors.append(error(row.number, "", _("is not a GeoJSON Feature.")))
            continue
        place, errors = _parse(model, row, error)
        if place and place.code in seen:
            errors = [
                error(
                    row.number,
                    "code",
                    _("“%(code)s” is already on row %(row)d.") % {"code": place.code, "row": seen[place.code]},
                )
            ]
            place = None
        result.errors.extend(errors)
        if place:
            seen[place.code] = row.number
            parsed.append(place)
    pointed = [p for p in parsed if p.point is not None]
    for place, district_id in zip(pointed, districts_at([(p.point.x, p.point.y) for p in pointed]), strict=True):
        if district_id is None:
            result.errors.append(
                error(place.number, "geometry" if result.features else "longitude", outside_message(place.point))
            )
            parsed.remove(place)
        else:
            place.values.update(location=place.point, district_id=district_id)
    result.errors.sort(key=lambda e: e.row)
    _store(model, parsed, result)
    return result


def _same(old: object, new: object) -> bool:
    if isinstance(old, GEOSGeometry) and isinstance(new, GEOSGeometry):
        return old.equals_exact(new, tolerance=1e-9)
    return old == new


@transaction.atomic
def _store(model: type[Place], parsed: list[_Parsed], result: ImportResult) -> None:
    existing = model.objects.select_for_update().in_bulk([p.code for p in parsed], field_name="code")
    for place in parsed:
        values = dict(place.values)
        if "district" in values:
            values["district_id"] = values.pop("district").pk
        row = existing.get(place.code)
        if row is None:
            model.objects.create(code=place.code, **values)
            result.created += 1
            continue
        changed = {k: v for k, v in values.items() if not _same(getattr(row, k), v)}
        if not changed:
            result.unchanged += 1
            continue
        for attribute, value in changed.items():
            setattr(row, attribute, value)
        row.save(update_fields=[*changed, "updated_at"])
        result.updated += 1


def place_locate(place: Place) -> None:
    """Set the place's district from where it lies; InvalidInputError when it lies outside the city."""
    where = place.boundary.point_on_surface if isinstance(place, RiskArea) else place.location
    if isinstance(place, RiskArea):
        place.boundary = wound(place.boundary)
    district = district_at(where)
    if district is None:
        raise InvalidInputError(outside_message(where), field="boundary" if isinstance(place, RiskArea) else "location")
    place.district = district
