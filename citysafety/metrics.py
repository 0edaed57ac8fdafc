"""Prometheus metrics, computed from the database at scrape time.

Why not counters in memory: the platform runs as several processes (gunicorn
workers, daphne, the Celery worker, the MQTT bridge), and a counter in one
process's memory counts that process's share only and starts again at 0
with it. prometheus_client's multiprocess mode would mend the first within
one container but not across containers, nor after a restart. The database
already holds nearly everything worth counting (warnings, work orders,
deliveries); what it did not — readings ingested and refused per gateway —
it now keeps in ``citysafety.models.Tally``. Every scrape of any process
thus answers the same numbers for the whole platform.

Each app contributes a collector function named in METRICS_COLLECTORS (a
setting, like INSTALLED_APPS, so this bottom layer imports none of them).
"""

import hmac
import ipaddress
from collections.abc import Callable, Iterable
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from citysafety import tallies
from citysafety.models import Heartbeat, ProcessKind, Tally


def platform_metrics() -> Iterable[Metric]:
    """Readings per gateway (the tallies) and the background processes' heartbeats."""
    ingested = CounterMetricFamily(
        "citysafety_readings_ingested", "Readings stored from each gateway (HTTP and MQTT).", labels=["gateway"]
    )
    refused = CounterMetricFamily(
        "citysafety_readings_refused",
        "Readings refused from each gateway (invalid items, oversized batches).",
        labels=["gateway"],
    )
    families = {tallies.READINGS_INGESTED: ingested, tallies.READINGS_REFUSED: refused}
    for name, label, value in Tally.objects.filter(name__in=families).values_list("name", "label", "value"):
        families[name].add_metric([label], value)
    yield ingested
    yield refused

    age = GaugeMetricFamily(
        "citysafety_heartbeat_age_seconds", "Seconds since a background process last beat.", labels=["kind", "name"]
    )
    up = GaugeMetricFamily(
        "citysafety_processes_up", "Background processes of each kind whose heartbeat is fresh.", labels=["kind"]
    )
    now = timezone.now()
    fresh = dict.fromkeys(ProcessKind.values, 0)
    for row in Heartbeat.objects.all():
        seconds = (now - row.beat_at).total_seconds()
        age.add_metric([row.kind, row.name], seconds)
        if row.stopped_at is None and seconds <= settings.HEARTBEAT_STALE_SECONDS:
            fresh[row.kind] = fresh.get(row.kind, 0) + 1
    for kind, count in fresh.items():
        up.add_metric([kind], count)
    yield age
    yield up


class DatabaseCollector(Collector):
    def __init__(self, functions: list[Callable[[], Iterable[Metric]]]):
        self.functions = functions

    def collect(self) -> Iterable[Metric]:
        for function in self.functions:
            yield from function()


@cache
def registry() -> CollectorRegistry:
    # A registry of its own: the default one would add this process's
    # Python and process metrics, which say nothing of the platform.
    own = CollectorRegistry(auto_describe=False)
    own.register(DatabaseCollector([import_string(path) for path in settings.METRICS_COLLECTORS]))
    return own


def _allowed(request: HttpRequest) -> HttpResponse | None:
    """None when the scraper may read; else the refusal."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode()):
            return None
        return JsonResponse({"detail": _("The metrics token is wrong.")}, status=403)
    networks = settings.METRICS_ALLOWED_NETWORKS
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            address = None
        if address is not None and any(address in network for network in networks):
            return None
    if token:
        response = JsonResponse({"detail": _("Send the metrics token as 'Authorization: Bearer <token>'.")}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if networks:
        return JsonResponse({"detail": _("This address may not read the metrics.")}, status=403)
    return JsonResponse(
        {"detail": _("Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_NETWORKS to let Prometheus read them.")},
        status=403,
    )


def scrape(request: HttpRequest) -> HttpResponse:
    # Answered before LocaleMiddleware: the refusal takes the reader's
    # language from the request itself.
    with translation.override(translation.get_language_from_request(request)):
        refusal = _allowed(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
