"""No-data rules: warnings for sensors that stopped reporting, and inhibition.

A periodic sweep (``warning.tasks.warn_silent_sensors``) finds, in one
set-based query, every sensor silent for longer than its no-data rule allows
and with no active warning of that rule. A sensor whose gateway is silent
that long too is not warned of on its own: the gateway gets one outage
warning for all of them (``GatewayOutage``), since one fault upstream would
otherwise raise a warning per sensor. A no-data warning recovers through
ordinary evaluation, at the sensor's next reading (``classify`` calls any
reading normal under a no-data rule); a gateway outage recovers when the
gateway is heard again.

An outage opening, its silent sensors growing and its recovery are pushed
to the duty officers' screens, once per sweep and after commit; its opening
and its recovery are told to the city centre's person on duty. An outage
makes no work order: an order answers a warning on a sensor (dispatch routes
by the sensor's domain, district and owner), and a gateway down is the
platform's own fault to chase, not a department's.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Gateway, Sensor
from monitoring.services import array_literal
from notifications import services as notifications
from notifications.models import NotificationKind
from organisation.selectors import city_centre_person_on_duty
from warning import pushes, silences, transitions
from warning.models import (
    GatewayOutage,
    RuleKind,
    Silence,
    ThresholdRule,
    Warning,
    WarningStatus,
)

# Sensor warnings opened per sweep at most: the rest wait for the next sweep
# (a minute), so one sweep never holds a worker or its locks for long. Each
# costs what any opened warning costs (routing, the push): 30-170 ms on the
# bench machine depending on its load.
MAX_OPENED_PER_SWEEP = 300

# Each silent (sensor, no-data rule) in effect with no active warning of
# that rule, and whether its gateway is silent as long (``folded``). A rule
# on a sensor overrides its type's rules, as in evaluation. Sensors folded
# into an outage come back summed up per gateway; the others one a row,
# longest silent first. One statement: a sequential pass over the sensor
# states (which have no index but their key, for HOT updates), then only
# the silent ones are joined (bench: ``python -m bench.no_data``).
_SILENT = """
    WITH rules AS (
        SELECT id, sensor_type_id, sensor_id, no_data_seconds, no_data_level FROM warning_thresholdrule
        WHERE is_active AND kind = 'no_data'
    ), overridden AS (
        SELECT DISTINCT sensor_id FROM warning_thresholdrule WHERE is_active AND sensor_id IS NOT NULL
    ), quiet AS MATERIALIZED (
        -- The one pass over every sensor's state: those silent at least as
        -- long as the shortest no-data rule allows (few, in a working city).
        -- A constant, so the planner estimates them from the column's
        -- statistics and joins the few by key instead of hashing every sensor.
        SELECT sensor_id, latest_observed_at, latest_value FROM monitoring_sensorstate
        WHERE latest_observed_at < %(quiet_before)s
    ), silent AS (
        SELECT q.sensor_id, s.gateway_id, r.id AS rule_id, r.no_data_level, q.latest_observed_at, q.latest_value,
               coalesce(g.is_active AND (g.last_seen_at IS NULL
                   OR g.last_seen_at < %(now)s - make_interval(secs => r.no_data_seconds)), false) AS folded,
               g.last_seen_at AS gateway_seen_at
        FROM quiet AS q
        JOIN monitoring_sensor AS s ON s.id = q.sensor_id AND s.is_active
        JOIN rules AS r ON r.sensor_id = s.id
            OR (r.sensor_type_id = s.sensor_type_id AND s.id NOT IN (SELECT sensor_id FROM overridden))
        LEFT JOIN monitoring_gateway AS g ON g.id = s.gateway_id
        WHERE q.latest_observed_at < %(now)s - make_interval(secs => r.no_data_seconds)
          AND NOT EXISTS (
              SELECT 1 FROM warning_warning AS w
              WHERE w.sensor_id = q.sensor_id AND w.rule_id = r.id AND w.status = 'active'
          )
    )
    (SELECT false, sensor_id, rule_id, no_data_level, 1::bigint, latest_observed_at, latest_value
     FROM silent WHERE NOT folded ORDER BY latest_observed_at, sensor_id LIMIT %(limit)s)
    UNION ALL
    SELECT true, gateway_id, NULL, min(no_data_level), count(DISTINCT sensor_id), max(gateway_seen_at), NULL
    FROM silent WHERE folded GROUP BY gateway_id
"""


@dataclass(frozen=True)
class SweepResult:
    opened: int
    reactivated: int
    outages_opened: int
    outages_recovered: int
    folded_sensors: int


def sensors_warn_silent(*, now: datetime | None = None, limit: int = MAX_OPENED_PER_SWEEP) -> SweepResult:
    """Open no-data warnings and gateway outages for what fell silent; end
    the outages of gateways heard again."""
    now = now or timezone.now()
    recovered = _outages_recover(now)
    shortest = ThresholdRule.objects.filter(is_active=True, kind=RuleKind.NO_DATA).aggregate(s=Min("no_data_seconds"))[
        "s"
    ]
    rows = []
    if shortest is not None:
        with connection.cursor() as cursor:
            cursor.execute(_SILENT, {"now": now, "quiet_before": now - timedelta(seconds=shortest), "limit": limit})
            rows = cursor.fetchall()
    sensors = [
        (sensor_id, rule_id, level, at, value)
        for folded, sensor_id, rule_id, level, _n, at, value in rows
        if not folded
    ]
    gateways = [(gateway_id, level, count, seen) for folded, gateway_id, _r, level, count, seen, _v in rows if folded]
    opened, reactivated = _sensors_warn(sensors, now) if sensors else (0, 0)
    outages_opened, outages_changed = _outages_open(gateways, now)
    pushed = sorted({*recovered, *outages_opened, *outages_changed})
    if pushed:
        transaction.on_commit(lambda: pushes.outages_push(outage_ids=pushed))
    return SweepResult(
        opened=opened,
        reactivated=reactivated,
        outages_opened=len(outages_opened),
        outages_recovered=len(recovered),
        folded_sensors=sum(count for _g, _l, count, _s in gateways),
    )


def _sensors_warn(found: list[tuple[int, int, int, datetime, float | None]], now: datetime) -> tuple[int, int]:
    """Open (or reactivate) the no-data warnings of these (sensor, rule, level,
    last reading time, last value), in one transaction.

    The sensors' state rows are locked first, in id order, as ingestion and
    evaluation lock them; a sensor locked by either is skipped (it is
    getting data), and the silence is checked again under the lock, so a
    reading stored since the query opens nothing. Two sweeps skip each
    other's sensors the same way.
    """
    sensor_ids = sorted({row[0] for row in found})
    rules = {rule.pk: rule for rule in ThresholdRule.objects.filter(pk__in={row[1] for row in found})}
    opened = reactivated = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT sensor_id, latest_observed_at FROM monitoring_sensorstate WHERE sensor_id = ANY(%s::bigint[])"
            " ORDER BY sensor_id FOR NO KEY UPDATE SKIP LOCKED",
            [array_literal(sensor_ids)],
        )
        latest = dict(cursor.fetchall())
        open_warnings = {
            (w.sensor_id, w.rule_id): w
            for w in Warning.objects.select_for_update()
            .filter(sensor_id__in=list(latest), rule_id__in=list(rules))
            .exclude(status=WarningStatus.CLOSED)
        }
        sensors = {s.pk: s for s in Sensor.objects.filter(pk__in=list(latest)).only("id", "sensor_type_id")}
        # A sensor under maintenance is silent for a reason: nothing opens or
        # comes back while its silence lasts; the first sweep after it does.
        maintained = silences.sensors_silenced_now(list(latest))
        touched = set()
        for sensor_id, rule_id, level, _at, value in found:
            if sensor_id in maintained:
                continue
            rule = rules.get(rule_id)
            last_at = latest.get(sensor_id)
            if rule is None or last_at is None or last_at >= now - timedelta(seconds=rule.no_data_seconds):
                continue
            since = last_at + timedelta(seconds=rule.no_data_seconds)
            warning = open_warnings.get((sensor_id, rule_id))
            if warning is None:
                transitions.open(sensors[sensor_id], rule, level, since, value if value is not None else 0.0)
                opened += 1
            elif warning.status == WarningStatus.RECOVERED:
                transitions.reactivate(warning, level, None, since)
                reactivated += 1
            else:
                continue
            touched.add(sensor_id)
        for sensor_id in sorted(touched):
            transitions.sensor_level_refresh(sensor_id)
    return opened, reactivated


def _outages_open(gateways: list[tuple[int, int, int, datetime | None]], now: datetime) -> tuple[list[int], list[int]]:
    """One active outage per silent gateway: opened (and told), or its count
    and level brought up to date. Returns the ids opened and those changed."""
    opened: list[int] = []
    changed: list[int] = []
    # A gateway under maintenance (a silence of the gateway) is down on purpose.
    maintained = set(
        Silence.objects.filter(
            gateway_id__in=[row[0] for row in gateways], starts_at__lte=now, ends_at__gt=now
        ).values_list("gateway_id", flat=True)
    )
    for gateway_id, level, count, seen in gateways:
        if gateway_id in maintained:
            continue
        with transaction.atomic():
            outage = (
                GatewayOutage.objects.select_for_update()
                .filter(gateway_id=gateway_id, status=WarningStatus.ACTIVE)
                .first()
            )
            if outage is None:
                # The partial unique index keeps a second sweep from opening a
                # second outage: its insert fails and the first stands.
                try:
                    with transaction.atomic():
                        outage = GatewayOutage.objects.create(
                            gateway_id=gateway_id, level=level, opened_at=now, last_seen_at=seen, silent_sensors=count
                        )
                except IntegrityError:
                    continue
                # In the outage's own transaction: opened and told, or neither.
                _outages_tell([outage], NotificationKind.GATEWAY_SILENT, now)
                opened.append(outage.pk)
                continue
            new_level, new_count = min(outage.level, level), max(outage.silent_sensors, count)
            if (new_level, new_count) != (outage.level, outage.silent_sensors):
                worse = new_level < outage.level
                GatewayOutage.objects.filter(pk=outage.pk).update(level=new_level, silent_sensors=new_count)
                if worse:
                    # A worse level is news (sensors of a stricter rule fell
                    # silent too): told once for each level reached.
                    outage.level, outage.silent_sensors = new_level, new_count
                    _outages_tell([outage], NotificationKind.GATEWAY_SILENT, now, event=f"level{new_level}")
                changed.append(outage.pk)
    return opened, changed


def _outages_recover(now: datetime) -> list[int]:
    """End the outages of gateways heard since they went silent (one statement), and tell of them."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE warning_gatewayoutage AS o SET status = 'recovered', recovered_at = g.last_seen_at
            FROM monitoring_gateway AS g
            WHERE o.gateway_id = g.id AND o.status = 'active'
              AND g.last_seen_at IS NOT NULL AND (o.last_seen_at IS NULL OR g.last_seen_at > o.last_seen_at)
            RETURNING o.id
            """
        )
        recovered = [row[0] for row in cursor.fetchall()]
        if recovered:
            _outages_tell(list(GatewayOutage.objects.filter(pk__in=recovered)), NotificationKind.GATEWAY_HEARD, now)
    return recovered


# The part of a notification's key that names the event: one per outage and event.
_EVENT_OF_KIND = {NotificationKind.GATEWAY_SILENT: "silent", NotificationKind.GATEWAY_HEARD: "heard"}


def _outages_tell(
    outages: list[GatewayOutage], kind: NotificationKind, now: datetime, *, event: str | None = None
) -> None:
    """Tell the city centre's person on duty that these gateways went silent or are heard again.

    A city matter (no department): ``notify`` tells duty officers only. The
    key names the outage and the event, so a second sweep, or a retried
    task, tells nobody twice. Called inside the caller's transaction;
    delivery waits for its commit.
    """
    recipients = city_centre_person_on_duty(now)
    if not recipients:
        return
    gateways = {
        g.pk: g for g in Gateway.objects.filter(pk__in=[o.gateway_id for o in outages]).only("id", "code", "name")
    }
    link = reverse("dashboard")
    for outage in outages:
        gateway = gateways[outage.gateway_id]
        data = {"gateway": gateway.code, "name": gateway.name, "level": outage.level, "sensors": outage.silent_sensors}
        if kind == NotificationKind.GATEWAY_HEARD:
            silent_since = outage.last_seen_at or outage.opened_at
            back_at = outage.recovered_at or now
            data["minutes"] = max(0, round((back_at - silent_since).total_seconds() / 60))
        notifications.notify(
            recipients=recipients,
            kind=kind,
            level=outage.level,
            key=f"outage:{outage.pk}:{event or _EVENT_OF_KIND[kind]}",
            data=data,
            link=link,
        )
