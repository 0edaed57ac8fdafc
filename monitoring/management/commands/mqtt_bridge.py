"""Subscribe to gateways' MQTT topics and ingest what they publish (see ``monitoring.bridge``)."""

import signal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from citysafety.heartbeats import Pacemaker
from citysafety.models import ProcessKind
from monitoring.bridge import Bridge, BrokerAddress


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Bridge gateway readings from the MQTT broker (MQTT_URL) into the platform. Several bridges, each "
        "with its own --client-id, share the work."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.MQTT_URL, help="mqtt://[user:password@]host[:port]")
        parser.add_argument(
            "--client-id",
            default="citysafety-bridge",
            help="stable across restarts (the broker keeps this bridge's session under it) and unique per bridge",
        )
        parser.add_argument("--workers", type=positive, default=4, help="messages ingested at once (threads)")
        parser.add_argument(
            "--in-flight",
            type=positive,
            help="unacknowledged messages the broker may send ahead (MQTT Receive Maximum); default twice the workers",
        )

    def handle(self, *args, url: str, client_id: str, workers: int, in_flight: int | None, **options):
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise CommandError(f"MQTT_URL must look like mqtt://host:1883, not {url!r}.")
        in_flight = in_flight or 2 * workers
        if in_flight > 0xFFFF:
            raise CommandError("--in-flight may be at most 65535 (MQTT's Receive Maximum).")
        bridge = Bridge(
            broker=BrokerAddress(parts.hostname, parts.port or 1883, parts.username, parts.password),
            client_id=client_id,
            workers=workers,
            in_flight=in_flight,
            session_expiry=settings.MQTT_SESSION_EXPIRY_SECONDS,
            announce=lambda line: self.stdout.write(line),
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: bridge.stop())
        # Fresh only while connected to the broker: a bridge that cannot reach
        # it ingests nothing, and readiness must say so.
        pacemaker = Pacemaker(kind=ProcessKind.MQTT_BRIDGE, name=client_id, alive=bridge.client.is_connected).start()
        try:
            bridge.run()
        finally:
            pacemaker.stop()
        if bridge.failure:
            raise CommandError(bridge.failure)
