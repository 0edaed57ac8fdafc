"""Reads shared by the warning app's views, consumers and tasks."""

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitoring.models import Sensor
from organisation.roles import is_duty_officer
from warning.models import RuleState, ThresholdRule, Warning, WarningStatus


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
    return Warning.objects.select_related("sensor__sensor_type__domain", "sensor__district", "rule", "closed_by")


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
    from warning.api.serializers import WarningSummarySerializer  # the API's shape is the push's shape

    warning = warnings_with_details().filter(pk=warning_id).first()
    return WarningSummarySerializer(warning).data if warning else None


def sensors_with_unevaluated_readings(*, limit: int = 5000) -> list[int]:
    """Sensors holding readings past a rule state's watermark.

    Catches what a lost task left behind (Redis or the worker down when the
    batch was stored). Sensors with a rule but no state row yet count too.
    """
    recent = timezone.now() - timedelta(days=1)
    behind = (
        RuleState.objects.filter(sensor__latest_reading_id__gt=Coalesce(F("last_reading_id"), 0))
        .order_by("sensor_id")
        .values_list("sensor_id", flat=True)
        .distinct()[:limit]
    )
    ids = set(behind)
    never = (
        Sensor.objects.filter(latest_reading_id__isnull=False, latest_observed_at__gte=recent, is_active=True)
        .filter(Q(sensor_type__threshold_rules__is_active=True) | Q(threshold_rules__is_active=True))
        .exclude(pk__in=RuleState.objects.values("sensor_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()[:limit]
    )
    ids.update(never)
    return sorted(ids)
