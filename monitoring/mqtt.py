"""Readings over MQTT: the same batches as the HTTP API, on a topic.

A gateway publishes to ``citysafety/gateways/<gateway code>/readings`` (the
prefix is ``MQTT_TOPIC_PREFIX``) a
JSON object ``{"token": "<gateway token>", "readings": [{sensor,
observed_at, value}, …]}`` and receives on
``citysafety/gateways/<gateway code>/results`` what HTTP would answer:
``{"status": 200|422|400|401|413|503, "accepted", "duplicates", "errors"}``
or ``{"status", "detail"}``. The token is in the payload because the broker
may let anyone publish; the topic's code must match the token's gateway.
"""

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import InterfaceError, OperationalError

from monitoring import services
from monitoring.ingest import MalformedBodyError, load_json
from monitoring.models import Gateway

log = logging.getLogger(__name__)


def subscription() -> str:
    return f"{settings.MQTT_TOPIC_PREFIX}/+/readings"


def result_topic(gateway_code: str) -> str:
    return f"{settings.MQTT_TOPIC_PREFIX}/{gateway_code}/results"


@dataclass(frozen=True)
class Reply:
    topic: str
    body: dict


def _gateway_code(topic: str) -> str | None:
    match = re.fullmatch(rf"{re.escape(settings.MQTT_TOPIC_PREFIX)}/(?P<code>[-\w]+)/readings", topic)
    return match["code"] if match else None


def error_reply(topic: str) -> Reply | None:
    """The answer to a message that failed unexpectedly."""
    code = _gateway_code(topic)
    if code is None:
        return None
    return Reply(result_topic(code), {"status": 500, "detail": "The message could not be processed."})


def handle_message(topic: str, payload: bytes) -> Reply | None:
    """Ingest one MQTT message; returns the reply to publish (None: topic not ours)."""
    code = _gateway_code(topic)
    if code is None:
        return None
    reply_to = result_topic(code)
    try:
        return Reply(reply_to, _ingest(code, payload))
    except (OperationalError, InterfaceError):
        log.warning("Database unavailable while ingesting MQTT batch of %s", code, exc_info=True)
        return Reply(reply_to, {"status": 503, "detail": "The database is unavailable; publish again shortly."})


def _ingest(code: str, payload: bytes) -> dict:
    try:
        envelope = load_json(payload)
    except MalformedBodyError as exc:
        return {"status": 400, "detail": str(exc)}
    if not isinstance(envelope, dict) or "readings" not in envelope:
        return {"status": 400, "detail": 'The payload must be an object {"token": "…", "readings": […]}.'}
    token = envelope.get("token")
    if not isinstance(token, str) or not token:
        return {"status": 401, "detail": "The payload carries no gateway token."}
    gateway = Gateway.objects.filter(token_hash=Gateway.hash_token(token)).first()
    if gateway is None or gateway.code != code:
        return {"status": 401, "detail": "Unknown gateway token for this topic."}
    if not gateway.is_active:
        return {"status": 401, "detail": "This gateway is disabled."}
    code, body = services.batch_answer(gateway=gateway, data=envelope["readings"])
    return {"status": code, **body}
