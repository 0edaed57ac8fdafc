"""Validation of gateway batches: plain code, no serializers.

This is the hot path of the platform (every reading of the city passes
here), so items are checked with straight Python rather than a DRF
serializer per item; ``bench/run.py`` (``make bench``) measures it.

What it tells a gateway about each item goes through gettext in the
language active when the batch is validated: English for integrators
unless the request asks for another one (the API view and the MQTT bridge
choose, ``citysafety.api.language_asked``). Valid items never reach gettext.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import orjson
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citysafety.errors import InvalidInputError


class NonFinite(float):
    """A NaN or ±Infinity literal found in the JSON body.

    Strict JSON has no such literals, but gateways send them; parsing them
    into a marker lets the batch keep its valid items and name the bad one.
    """


def _parse_constant(name: str) -> NonFinite:
    return NonFinite(float(name.lower().replace("infinity", "inf")))


class MalformedBodyError(InvalidInputError):
    """The body as a whole cannot be read as a batch."""


def load_json(body: bytes) -> object:
    """Parse a JSON body, NaN and Infinity literals becoming NonFinite markers.

    orjson first: it parses a batch of 1,000 readings about five times
    faster. Whatever it refuses (NaN and Infinity literals, numbers out of
    range, bad UTF-8, deep nesting) is parsed again by the standard library,
    whose answer names the fault and keeps the valid items.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBodyError("The body is not UTF-8 text.") from exc
    try:
        return json.loads(text, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise MalformedBodyError(f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from exc
    except RecursionError as exc:
        raise MalformedBodyError("Malformed JSON: nested too deeply.") from exc
    except ValueError as exc:  # e.g. an integer longer than Python will parse
        raise MalformedBodyError(f"Malformed JSON: {exc}.") from exc


def as_batch(data: object) -> list:
    if not isinstance(data, list):
        raise MalformedBodyError("The readings must be a JSON array: [{sensor, observed_at, value}, …].")
    return data


@dataclass(frozen=True)
class ItemError:
    index: int
    field: str
    message: str


@dataclass
class ValidBatch:
    # (sensor_id, observed_at, value), in the order they came
    rows: list[tuple[int, datetime, float]] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    duplicates_in_batch: int = 0


class SensorRef(NamedTuple):
    # A tuple, not a dataclass: a batch builds a thousand of them.
    id: int
    gateway_id: int | None
    is_active: bool


def parse_timestamp(
    raw: object, now: datetime, max_future: timedelta, max_age: timedelta | None
) -> tuple[datetime | None, str]:
    """The time, or None and why not. ``max_age`` None: no age limit (an archive import)."""
    if not isinstance(raw, str):
        return None, _("must be an ISO 8601 timestamp string with a time zone.")
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None, _("'%(raw)s' is not an ISO 8601 timestamp.") % {"raw": raw[:40]}
    if when.tzinfo is None or when.utcoffset() is None:
        return None, _("'%(raw)s' has no time zone; add one, e.g. +08:00 or Z.") % {"raw": raw[:40]}
    try:
        # In UTC: PostgreSQL takes offsets up to ±15:59, Python up to ±23:59 (+18:15 failed the whole batch).
        when = when.astimezone(UTC)
    except OverflowError:
        return None, _("'%(raw)s' falls outside the years 1 to 9999 once in UTC.") % {"raw": raw[:40]}
    if when > now + max_future:
        return (
            None,
            _("'%(raw)s' lies more than %(seconds)d s in the future; check the gateway clock.")
            % {"raw": raw[:40], "seconds": int(max_future.total_seconds())},
        )
    if max_age is not None and when < now - max_age:
        return None, ngettext(
            "'%(raw)s' is more than %(days)d day old; check the gateway clock.",
            "'%(raw)s' is more than %(days)d days old; check the gateway clock.",
            max_age.days,
        ) % {
            "raw": raw[:40],
            "days": max_age.days,
        }
    return when, ""


def check_value(raw: object) -> tuple[float | None, str]:
    if isinstance(raw, NonFinite):
        return None, _("must be a finite number; NaN and Infinity are not readings.")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        if isinstance(raw, str):
            return None, _("must be a number, not a string.")
        if raw is None:
            return None, _("must be a number, not null.")
        return None, _("must be a number, not %(kind)s.") % {"kind": type(raw).__name__}
    try:
        value = float(raw)
    except OverflowError:
        return None, _("must be a finite number; the value is out of range.")
    if not math.isfinite(value):
        return None, _("must be a finite number; the value is out of range.")
    return value, ""


def validate_items(
    items: list,
    *,
    sensors: dict[str, SensorRef],
    gateway_id: int | None,
    max_future: timedelta,
    max_age: timedelta | None,
    now: datetime | None = None,
) -> ValidBatch:
    """Check each item; keep the valid ones, describe each invalid one.

    ``sensors`` maps the codes named in the batch to the known sensors.
    ``gateway_id`` None (an administrator's archive import): a sensor of any
    gateway; ``max_age`` None: no age limit.
    """
    now = now or timezone.now()
    batch = ValidBatch()
    seen: set[tuple[int, datetime]] = set()
    # A batch's items mostly share a few timestamps (one per reporting
    # round): each distinct text is parsed and checked once.
    timestamps: dict[object, tuple[datetime | None, str]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            batch.errors.append(ItemError(index, "", _("must be an object {sensor, observed_at, value}.")))
            continue
        try:
            code, raw_time, raw_value = item["sensor"], item["observed_at"], item["value"]
        except KeyError:
            for name in ("sensor", "observed_at", "value"):
                if name not in item:
                    batch.errors.append(ItemError(index, name, _("is required.")))
            continue
        if not isinstance(code, str) or not code or "\x00" in code:
            batch.errors.append(ItemError(index, "sensor", _("must be a sensor code (a non-empty string).")))
            continue
        sensor = sensors.get(code)
        if sensor is None:
            batch.errors.append(ItemError(index, "sensor", _("unknown sensor '%(code)s'.") % {"code": code[:60]}))
            continue
        if gateway_id is not None and sensor.gateway_id != gateway_id:
            batch.errors.append(
                ItemError(index, "sensor", _("sensor '%(code)s' is not served by this gateway.") % {"code": code})
            )
            continue
        if not sensor.is_active:
            batch.errors.append(ItemError(index, "sensor", _("sensor '%(code)s' is disabled.") % {"code": code}))
            continue
        parsed = timestamps.get(raw_time) if isinstance(raw_time, str) else None
        if parsed is None:
            parsed = parse_timestamp(raw_time, now, max_future, max_age)
            if isinstance(raw_time, str):
                timestamps[raw_time] = parsed
        observed_at, problem = parsed
        if observed_at is None:
            batch.errors.append(ItemError(index, "observed_at", problem))
            continue
        if type(raw_value) is float and math.isfinite(raw_value):
            value = raw_value  # the common case; NonFinite is a subclass, never this
        else:
            value, problem = check_value(raw_value)
            if value is None:
                batch.errors.append(ItemError(index, "value", problem))
                continue
        key = (sensor.id, observed_at)
        if key in seen:
            batch.duplicates_in_batch += 1
            continue
        seen.add(key)
        batch.rows.append((sensor.id, observed_at, value))
    return batch


def sensor_codes(items: list) -> set[str]:
    """The codes worth looking up (PostgreSQL text cannot hold a NUL)."""
    return {
        item["sensor"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("sensor"), str) and "\x00" not in item["sensor"]
    }
