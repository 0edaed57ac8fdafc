"""Reads of the surroundings: the map's layers as GeoJSON (RFC 7946), and what lies near a point."""

import json
from collections.abc import Mapping

from django.contrib.gis.geos import Point, Polygon
from django.db.models import BooleanField, FloatField, QuerySet
from django.db.models.expressions import RawSQL

from citysafety import parameters
from surroundings.models import LAYERS, Camera, EmergencyResource, Place, ProtectionTarget, RiskArea

# A layer's answer at most, so that a box over the whole province stays a small answer.
MAX_FEATURES = 2000


def bbox_parse(params: Mapping[str, str]) -> Polygon:
    """The box of ``bbox=west,south,east,north`` (degrees), as the sensor layer reads it."""
    west, south, east, north = parameters.bbox(params)
    return Polygon.from_bbox((west, south, east, north))


def _properties(place: Place) -> dict:
    properties = {
        "id": place.pk,
        "code": place.code,
        "name": place.name,
        "kind": getattr(place, "kind", None),  # a camera has none
        "district": place.district.name if place.district else None,
        "address": place.address,
        "contact_name": place.contact_name,
        "contact_phone": place.contact_phone,
    }
    if isinstance(place, ProtectionTarget):
        properties["capacity"] = place.capacity
    elif isinstance(place, EmergencyResource):
        properties.update(team_size=place.team_size, speciality=place.speciality, stock=place.stock)
    elif isinstance(place, RiskArea):
        properties.update(grade=place.grade, assessed_on=place.assessed_on.isoformat())
    elif isinstance(place, Camera):
        properties["stream_url"] = place.stream_url
    return properties


def layer_geojson(layer: str, box: Polygon) -> dict:
    """The layer's places in the box, as a FeatureCollection (outer rings counter-clockwise)."""
    model = LAYERS[layer]
    field = "boundary" if model is RiskArea else "location"
    places = model.objects.filter(**{f"{field}__intersects": box}).select_related("district").order_by("code")
    features = [
        {
            "type": "Feature",
            "id": place.pk,
            "geometry": json.loads(getattr(place, field).geojson),
            "properties": _properties(place),
        }
        for place in places[:MAX_FEATURES]
    ]
    return {"type": "FeatureCollection", "features": features}


def near(queryset: QuerySet, point: Point, metres: float) -> QuerySet:
    """The places of ``queryset`` within ``metres`` of the point, nearest first, with ``distance_m``.

    Measured on the geography type (metres on the spheroid), served by the
    geography indexes of migration 0002.
    """
    model = queryset.model
    column = f'"{model._meta.db_table}"."{"boundary" if model is RiskArea else "location"}"'
    here = "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography"
    return (
        queryset.alias(
            # The column is the model's own; every value is a query parameter.
            within=RawSQL(f"ST_DWithin({column}::geography, {here}, %s)", (point.x, point.y, metres), BooleanField())  # noqa: S611
        )
        .filter(within=True)
        .annotate(distance_m=RawSQL(f"ST_Distance({column}::geography, {here})", (point.x, point.y), FloatField()))  # noqa: S611
        .order_by("distance_m")
    )
