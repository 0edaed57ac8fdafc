"""Silences (maintenance windows): create, end early, lift.

Evaluation asks ``silence_windows.silence_windows`` once per chunk which of its sensors
are silenced when (one query, whatever the chunk's size); while a reading
falls in a window, no warning opens, escalates or comes back for it
(``warning.series.apply_reading``). When a silence ends, by its expiry or
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
from warning.services import sensors_reevaluate_latest
from warning.silence_windows import sensors_silenced_now

log = logging.getLogger(__name__)


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
