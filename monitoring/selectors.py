"""Reads shared by monitoring's views, consumers and tasks."""

import json
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import FloatField, Func, QuerySet

from monitoring.models import Sensor
from organisation.models import District
from organisation.roles import is_duty_officer
from organisation.selectors import department_id_of


def sensors_visible_to(user: AbstractBaseUser) -> QuerySet[Sensor]:
    """Duty officers see every sensor; department staff the sensors they own."""
    sensors = Sensor.objects.filter(is_active=True)
    if is_duty_officer(user):
        return sensors
    department_id = department_id_of(user)
    return sensors.filter(owner_department_id=department_id) if department_id else sensors.none()


def sensors_geojson(sensors: QuerySet[Sensor]) -> dict:
    """A GeoJSON (RFC 7946) FeatureCollection of sensors for the map."""
    rows = (
        sensors.annotate(
            lng=Func("location", function="ST_X", output_field=FloatField()),
            lat=Func("location", function="ST_Y", output_field=FloatField()),
        )
        .order_by("id")
        .values(
            "id",
            "code",
            "name",
            "lng",
            "lat",
            "status",
            "warning_level",
            "state__latest_value",
            "state__latest_observed_at",
            "sensor_type__name",
            "sensor_type__unit",
            "sensor_type__domain__code",
            "sensor_type__domain__name",
            "district__name",
        )
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [round(row["lng"], 6), round(row["lat"], 6)]},
                "properties": {
                    "id": row["id"],
                    "code": row["code"],
                    "name": row["name"],
                    "type": row["sensor_type__name"],
                    "unit": row["sensor_type__unit"],
                    "domain": row["sensor_type__domain__code"],
                    "domain_name": row["sensor_type__domain__name"],
                    "district": row["district__name"],
                    "status": row["status"],
                    "warning_level": row["warning_level"],
                    "latest_value": row["state__latest_value"],
                    "latest_observed_at": (
                        row["state__latest_observed_at"].isoformat() if row["state__latest_observed_at"] else None
                    ),
                },
            }
            for row in rows
        ],
    }


def evaluation_backlog() -> tuple[timedelta, int]:
    """(how long the oldest reading evaluation has not seen has waited, how
    many sensors hold such readings). Ingestion marks a sensor's state,
    evaluation clears it; one pass over the narrow state table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now() - min(unevaluated_since), count(unevaluated_since) FROM monitoring_sensorstate")
        lag, waiting = cursor.fetchone()
    return max(lag or timedelta(0), timedelta(0)), waiting


def districts_geojson() -> dict:
    features = []
    for district in District.objects.order_by("code"):
        features.append(
            {
                "type": "Feature",
                "id": district.pk,
                "geometry": json.loads(district.boundary.geojson),
                "properties": {"id": district.pk, "code": district.code, "name": district.name},
            }
        )
    return {"type": "FeatureCollection", "features": features}
