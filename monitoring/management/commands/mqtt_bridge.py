"""Subscribe to gateways' MQTT topics and ingest what they publish."""

import json
import logging
import signal
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from monitoring.mqtt import error_reply, handle_message, subscription

log = logging.getLogger("monitoring.mqtt")


class Command(BaseCommand):
    help = "Bridge gateway readings from the MQTT broker (MQTT_URL) into the platform."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.MQTT_URL, help="mqtt://[user:password@]host[:port]")
        parser.add_argument("--client-id", default="citysafety-bridge")

    def handle(self, *args, url: str, client_id: str, **options):
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise CommandError(f"MQTT_URL must look like mqtt://host:1883, not {url!r}.")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if parts.username:
            client.username_pw_set(parts.username, parts.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)

        def on_connect(client, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                log.error("MQTT connection refused: %s", reason_code)
                return
            # QoS 1 and a persistent session: messages published while the
            # bridge restarts wait in the broker.
            client.subscribe(subscription(), qos=1)
            self.stdout.write(
                f"mqtt bridge: connected to {parts.hostname}:{parts.port or 1883}, listening on {subscription()}"
            )

        def on_message(client, userdata, message):
            close_old_connections()
            try:
                reply = handle_message(message.topic, message.payload)
            except Exception:
                # Anyone may publish to the broker: one poisonous message must
                # not stop the bridge (and, redelivered at QoS 1, stop it again
                # on every restart). It is logged and answered, then dropped.
                log.exception("mqtt message on %s could not be handled", message.topic)
                reply = error_reply(message.topic)
            if reply is not None:
                client.publish(reply.topic, json.dumps(reply.body, ensure_ascii=False), qos=1)
                log.info("mqtt %s -> %s", message.topic, reply.body.get("status"))

        client.on_connect = on_connect
        client.on_message = on_message
        signal.signal(signal.SIGTERM, lambda *_: client.disconnect())
        client.connect(parts.hostname, parts.port or 1883, keepalive=30)
        try:
            client.loop_forever(retry_first_connection=True)
        except KeyboardInterrupt:
            client.disconnect()
