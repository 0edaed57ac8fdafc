"""Reads shared by the warning app's views, consumers and tasks."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Q, QuerySet
from pghistory.core import event_models

from monitoring.models import Sensor, SensorType
from organisation.models import District
from organisation.roles import is_duty_officer
from warning.models import Incident, ThresholdRule, Warning, WarningStatus
from warning.payloads import WarningSummaryRows


def rules_for_sensors(sensors: list[Sensor]) -> dict[int, list[ThresholdRule]]:
    """Each sensor's own rules if it has any, else its type's rules (one query)."""
    rules = ThresholdRule.objects.filter(is_active=True).filter(
        Q(sensor_id__in=[s.pk for s in sensors]) | Q(sensor_type_id__in={s.sensor_type_id for s in sensors})
    )
    own: dict[int, list[ThresholdRule]] = {}
    by_type: dict[int, list[ThresholdRule]] = {}
    for rule in rules.order_by("pk"):
        if rule.sensor_id:
            own.setdefault(rule.sensor_id, []).append(rule)
        else:
            by_type.setdefault(rule.sensor_type_id, []).append(rule)
    effective = {}
    for sensor in sensors:
        chosen = own.get(sensor.pk) or by_type.get(sensor.sensor_type_id)
        if chosen:
            effective[sensor.pk] = chosen
    return effective


def warnings_with_details() -> QuerySet[Warning]:
    return Warning.objects.select_related(
        "sensor__sensor_type__domain", "sensor__district", "rule", "closed_by", "incident__asset"
    )


# Sensors found by a text search are passed to the warnings' query as a list
# of ids up to this many; more, and as a subquery.
SEARCH_IDS_UP_TO = 2000


def warnings_of_sensors(
    warnings: QuerySet[Warning],
    *,
    district: str | None = None,
    domain: str | None = None,
    sensor: str | None = None,
    search: str | None = None,
) -> QuerySet[Warning]:
    """``warnings`` whose sensor stands in the district, belongs to the domain, has the code, or matches the text.

    A semi-join on the sensors rather than a join: the warnings keep their
    own order and index, and the page's rows get their sensor afterwards.
    ``search`` matches part of a sensor's code or name, in any case.
    """
    sensors = Sensor.objects.all()
    # Codes become ids first (a district, a few sensor types): the planner
    # then knows how many sensors it keeps from the column's statistics, and
    # walks the warnings' index in the list's order instead of gathering and
    # sorting every warning of the sensors it underestimated.
    if district is not None:
        district_id = District.objects.filter(code=district).values_list("pk", flat=True).first()
        if district_id is None:
            return warnings.none()
        sensors = sensors.filter(district_id=district_id)
    if domain is not None:
        type_ids = list(SensorType.objects.filter(domain__code=domain).values_list("pk", flat=True))
        sensors = sensors.filter(sensor_type_id__in=type_ids)
    if sensor is not None:
        sensors = sensors.filter(code=sensor)
    if search is not None:
        text = search.strip()
        # Trigram indexes serve these (warning migration 0004). Found once
        # and passed as ids when they are few: the count and the page would
        # each search again, and the planner sizes a list of ids exactly.
        sensors = sensors.filter(Q(code__icontains=text) | Q(name__icontains=text))
        found = list(sensors.values_list("pk", flat=True)[: SEARCH_IDS_UP_TO + 1])
        if not found:
            return warnings.none()
        if len(found) <= SEARCH_IDS_UP_TO:
            return warnings.filter(sensor_id__in=found)
    return warnings.filter(sensor_id__in=sensors.values("pk"))


def closed_warnings_visible_to(user: AbstractBaseUser) -> QuerySet[Warning]:
    """The archive of closed warnings, for the closed-warning search."""
    return warnings_visible_to(user).filter(status=WarningStatus.CLOSED)


def closed_warnings_search(
    user: AbstractBaseUser,
    *,
    opened_from: datetime | None = None,
    opened_before: datetime | None = None,
    sensor: str | None = None,
    district: str | None = None,
) -> QuerySet[Warning]:
    """Closed warnings opened in [opened_from, opened_before), of a sensor (code or part of its name) and district."""
    warnings = closed_warnings_visible_to(user)
    if opened_from is not None:
        warnings = warnings.filter(opened_at__gte=opened_from)
    if opened_before is not None:
        warnings = warnings.filter(opened_at__lt=opened_before)
    if sensor is not None or district is not None:
        warnings = warnings_of_sensors(warnings, search=sensor, district=district)
    return warnings


def warnings_visible_to(user: AbstractBaseUser) -> QuerySet[Warning]:
    """Warnings are the whole city's picture: duty officers and administrators.

    Department staff see a warning through the work orders routed to their
    department (the dispatch API), never through this list.
    """
    if is_duty_officer(user):
        return warnings_with_details()
    return Warning.objects.none()


def warning_counts(warnings: QuerySet[Warning]) -> dict:
    active = Q(status=WarningStatus.ACTIVE)
    counts = warnings.exclude(status=WarningStatus.CLOSED).aggregate(
        open=Count("id"),
        recovered=Count("id", filter=Q(status=WarningStatus.RECOVERED)),
        level1=Count("id", filter=active & Q(level=1)),
        level2=Count("id", filter=active & Q(level=2)),
        level3=Count("id", filter=active & Q(level=3)),
    )
    return {
        "open": counts["open"],
        "recovered": counts["recovered"],
        "active_by_level": {"1": counts["level1"], "2": counts["level2"], "3": counts["level3"]},
    }


def warning_payload(warning_id: int) -> dict | None:
    """The warning as the API and the live map show it."""
    payloads = warning_payloads([warning_id])
    return payloads[0] if payloads else None


# What a warning's summary reads of its sensor, type, domain, district and
# rule: not the district's boundary (a polygon, parsed for nothing).
_SUMMARY_FIELDS = (
    *(f.name for f in Warning._meta.concrete_fields),
    "sensor__code",
    "sensor__name",
    "sensor__location",
    "sensor__address",
    "sensor__sensor_type__name",
    "sensor__sensor_type__unit",
    "sensor__sensor_type__domain__code",
    "sensor__sensor_type__domain__name",
    "sensor__district__code",
    "sensor__district__name",
    "rule__name",
    "rule__kind",
    "rule__direction",
    "rule__level1_threshold",
    "rule__level2_threshold",
    "rule__level3_threshold",
    "rule__level1_lower_threshold",
    "rule__level2_lower_threshold",
    "rule__level3_lower_threshold",
    "rule__dead_band",
)


def warning_payloads(warning_ids: list[int]) -> list[dict]:
    """Many warnings as the API and the live map show them (in id order): one
    query, and one more only when some belong to an incident.

    The pushes of a whole chunk of evaluation are built here at once. The
    incident and its asset are read apart: joined in, they made the query's
    nine tables cost the planner more (about 5 ms) than the query took to
    run. The rows are ``warning.payloads.WarningSummaryRows``, which the
    API's ``WarningSummarySerializer`` reuses.
    """
    if not warning_ids:
        return []
    warnings = list(
        Warning.objects.select_related("sensor__sensor_type__domain", "sensor__district", "rule")
        .only(*_SUMMARY_FIELDS)
        .filter(pk__in=warning_ids)
        .order_by("pk")
    )
    incident_ids = {w.incident_id for w in warnings if w.incident_id is not None}
    if incident_ids:
        incidents = Incident.objects.select_related("asset").in_bulk(incident_ids)
        for warning in warnings:
            if warning.incident_id is not None:
                warning.incident = incidents.get(warning.incident_id)
    else:
        for warning in warnings:
            warning.incident = None
    rows = WarningSummaryRows()
    return [rows.row(warning) for warning in warnings]


def sensors_with_unevaluated_readings(*, limit: int = 5000) -> list[int]:
    """Sensors holding readings evaluation has not seen, the longest waiting first.

    Catches what a lost task or a lost mark left behind (Redis or the worker
    down when the batch was stored). Ingestion marks each sensor's state row
    and evaluation clears it, so this reads one narrow table; no index, on
    purpose: an index on a column every batch writes would stop the updates
    from staying on their page.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sensor_id FROM monitoring_sensorstate WHERE unevaluated_since IS NOT NULL"
            " ORDER BY unevaluated_since, sensor_id LIMIT %s",
            [limit],
        )
        return [sensor_id for (sensor_id,) in cursor]


# What "the thresholds" of a rule are, for the question of which were in force.
THRESHOLD_FIELDS = (
    "kind",
    "direction",
    "level1_threshold",
    "level2_threshold",
    "level3_threshold",
    "level1_lower_threshold",
    "level2_lower_threshold",
    "level3_lower_threshold",
    "hold_seconds",
    "dead_band",
)


def thresholds_in_force(rule: ThresholdRule, at: datetime) -> dict:
    """The rule's thresholds as they stood at ``at``, read from the audit trail, and since when.

    The trail (the ``audit`` app, above this one) is reached through
    pghistory's registry of the models that track ``ThresholdRule``, so this
    app imports nothing of it. The latest event at or before ``at`` holds the
    row then (``in_force_since`` is its time; none for a row older than the
    trail); failing that, the first change after ``at`` kept the row it
    replaced; with no event at all the rule has not changed since the trail
    began. ``changed_since`` says whether the rule differs now, so a reader
    knows its page no longer shows what the warning was measured against.
    """
    current = {field: getattr(rule, field) for field in THRESHOLD_FIELDS}
    values, since = current, None
    for event_model in event_models(tracks_model=ThresholdRule):
        events = event_model.objects.filter(pgh_obj_id=rule.pk)
        stood = (
            events.filter(pgh_created_at__lte=at)
            .exclude(pgh_label="before_update")
            .order_by("-pgh_created_at", "-pgh_id")
            .first()
        )
        if stood is None:
            stood = events.filter(pgh_created_at__gt=at, pgh_label="before_update").order_by("pgh_id").first()
        elif stood.pgh_label != "delete":
            since = stood.pgh_created_at
        if stood is not None:
            values = {field: getattr(stood, field) for field in THRESHOLD_FIELDS}
    return {**values, "in_force_since": since, "changed_since": values != current}
