"""Silences (maintenance windows): create, end early, find in force, lift.

Evaluation asks :func:`silence_windows` once per chunk which of its sensors
are silenced when (one query, whatever the chunk's size); while a reading
falls in a window, no warning opens, escalates or comes back for it
(``warning.services._apply_reading``). When a silence ends, by its expiry or
early, :func:`silences_lift` evaluates each covered sensor's latest reading
once more, so a condition still true then opens its warning.
"""

import logging
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citysafety.errors import ConflictError, InvalidInputError, NotFoundError
from monitoring.models import Gateway, Sensor, SensorType
from monitoring.services import array_literal
from organisation.models import District
from warning.models import Silence

log = logging.getLogger(__name__)

Window = tuple[datetime, datetime]

# A silence covers a sensor by any of its four targets. The sensors' rows are
# joined by their primary key, so a chunk's look-up reads the silences in
# force (few) and the chunk's sensors, never the whole sensor table.
_WINDOWS = """
    SELECT s.id, si.starts_at, si.ends_at
    FROM monitoring_sensor AS s
    JOIN warning_silence AS si
      ON si.sensor_id = s.id OR si.gateway_id = s.gateway_id
         OR si.district_id = s.district_id OR si.sensor_type_id = s.sensor_type_id
    WHERE s.id = ANY(%s::bigint[]) AND si.ends_at > %s AND si.starts_at <= %s
"""


def silence_windows(sensor_ids: list[int], *, since: datetime, until: datetime) -> dict[int, list[Window]]:
    """Sensor id: the silences' [start, end) windows overlapping [since, until], for these sensors (one query)."""
    if not sensor_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_WINDOWS, [array_literal(sorted(set(sensor_ids))), since, until])
        windows: dict[int, list[Window]] = {}
        for sensor_id, starts_at, ends_at in cursor.fetchall():
            windows.setdefault(sensor_id, []).append((starts_at, ends_at))
    return windows


def covers(windows: list[Window] | None, at: datetime) -> bool:
    return bool(windows) and any(start <= at < end for start, end in windows)


def sensors_silenced_now(sensor_ids: list[int]) -> set[int]:
    """The sensors among these under a silence in force now (one query): the map's maintenance marker."""
    now = timezone.now()
    return {
        sensor_id
        for sensor_id, windows in silence_windows(sensor_ids, since=now, until=now).items()
        if covers(windows, now)
    }


def silence_create(
    *,
    user: AbstractBaseUser,
    reason: str,
    ends_at: datetime,
    starts_at: datetime | None = None,
    sensor: Sensor | None = None,
    gateway: Gateway | None = None,
    district: District | None = None,
    sensor_type: SensorType | None = None,
) -> Silence:
    silence = Silence(
        sensor=sensor,
        gateway=gateway,
        district=district,
        sensor_type=sensor_type,
        reason=(reason or "").strip(),
        created_by=user,
        starts_at=starts_at or timezone.now(),
        ends_at=ends_at,
    )
    try:
        silence.full_clean(exclude=["created_by"])
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise InvalidInputError(" ".join(messages), field=None if field == "__all__" else field) from None
    silence.save()
    return silence


def silence_end(*, silence_id: int, user: AbstractBaseUser) -> Silence:
    """End a silence now, before its expiry; what it held back is evaluated at once."""
    now = timezone.now()
    with transaction.atomic():
        silence = Silence.objects.select_for_update().filter(pk=silence_id).first()
        if silence is None:
            raise NotFoundError(_("This silence does not exist."))
        if silence.ends_at <= now:
            raise ConflictError(
                _("This silence already ended at %(time)s.")
                % {"time": timezone.localtime(silence.ends_at).strftime("%Y-%m-%d %H:%M")}
            )
        if silence.starts_at >= now:
            # Called off before it began: an empty window just before now
            # keeps the record (and its constraint, end after start).
            silence.starts_at = now - timedelta(microseconds=1)
        silence.ends_at = now
        silence.ended_by = user
        silence.save(update_fields=["starts_at", "ends_at", "ended_by"])
    silences_lift()
    return silence


def silences_lift(*, now: datetime | None = None) -> int:
    """Act on the silences that ended: evaluate the latest reading of each
    sensor they covered and no silence still covers; returns warnings opened.

    Idempotent: a silence is lifted once (``lifted_at``, taken with SKIP
    LOCKED so two sweeps share the work), and evaluating a latest reading
    again changes nothing.
    """
    from warning.services import sensors_reevaluate_latest

    now = now or timezone.now()
    with transaction.atomic():
        ended = list(
            Silence.objects.select_for_update(skip_locked=True)
            .filter(lifted_at__isnull=True, ends_at__lte=now)
            .values_list("pk", flat=True)[:500]
        )
        if not ended:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT s.id FROM monitoring_sensor AS s JOIN warning_silence AS si"
                " ON si.sensor_id = s.id OR si.gateway_id = s.gateway_id"
                " OR si.district_id = s.district_id OR si.sensor_type_id = s.sensor_type_id"
                " WHERE si.id = ANY(%s::bigint[]) AND s.is_active",
                [array_literal(ended)],
            )
            covered = sorted(sensor_id for (sensor_id,) in cursor.fetchall())
        Silence.objects.filter(pk__in=ended).update(lifted_at=now)
    still = sensors_silenced_now(covered)
    opened = 0
    free = [sensor_id for sensor_id in covered if sensor_id not in still]
    for start in range(0, len(free), 500):
        opened += sensors_reevaluate_latest(sensor_ids=free[start : start + 500])
    return opened


def silences_listed(*, include_ended: bool = True):
    silences = Silence.objects.select_related(
        "sensor", "gateway", "district", "sensor_type", "created_by", "ended_by"
    ).defer("district__boundary")
    if not include_ended:
        silences = silences.filter(ends_at__gt=timezone.now())
    return silences.order_by("-starts_at", "-id")
