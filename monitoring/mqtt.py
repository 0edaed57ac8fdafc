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
from django.utils import translation

from citysafety.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    OverloadedError,
    TooLargeError,
)
from monitoring import services
from monitoring.ingest import load_json
from monitoring.models import Gateway

log = logging.getLogger(__name__)


def subscription() -> str:
    """The topic filter of every gateway's readings."""
    return f"{settings.MQTT_TOPIC_PREFIX}/+/readings"


def shared_subscription() -> str:
    """What a bridge subscribes to: the readings as one MQTT v5 shared
    subscription of ``MQTT_SHARE_GROUP``, so that the broker hands each
    message to one of the bridges. Messages arrive on their real topic,
    without the ``$share/<group>/`` part."""
    group = settings.MQTT_SHARE_GROUP
    return f"$share/{group}/{subscription()}" if group else subscription()


def result_topic(gateway_code: str) -> str:
    return f"{settings.MQTT_TOPIC_PREFIX}/{gateway_code}/results"


# The bridge's answer to each of the domain's errors. Gateways read the
# numbers as they would over HTTP, so they are HTTP's; the table is the
# bridge's own: it answers without the REST framework. An error takes the
# status of its most specific class listed.
STATUS_OF_ERROR: dict[type[DomainError], int] = {
    NotFoundError: 404,
    NotAllowedError: 403,
    ConflictError: 409,
    TooLargeError: 413,
    OverloadedError: 429,
    InvalidInputError: 400,
    DomainError: 400,
}


def status_of(error: DomainError) -> int:
    return next(STATUS_OF_ERROR[cls] for cls in type(error).__mro__ if cls in STATUS_OF_ERROR)


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
    # MQTT carries no language: gateways are answered in English, as over
    # HTTP when they ask for none (the bridge's own default is Chinese).
    with translation.override("en"):
        return _handle(code, reply_to, payload)


def _handle(code: str, reply_to: str, payload: bytes) -> Reply:
    try:
        return Reply(reply_to, _ingest(code, payload))
    except DomainError as error:
        body = {"status": status_of(error), "detail": str(error)}
        if isinstance(error, OverloadedError):
            body["retry_after"] = error.retry_after
        return Reply(reply_to, body)
    except (OperationalError, InterfaceError):
        log.warning("Database unavailable while ingesting MQTT batch of %s", code, exc_info=True)
        return Reply(reply_to, {"status": 503, "detail": "The database is unavailable; publish again shortly."})


def _ingest(code: str, payload: bytes) -> dict:
    envelope = load_json(payload)
    if not isinstance(envelope, dict) or "readings" not in envelope:
        return {"status": 400, "detail": 'The payload must be an object {"token": "…", "readings": […]}.'}
    token = envelope.get("token")
    if not isinstance(token, str) or not token:
        return {"status": 401, "detail": "The payload carries no gateway token."}
    gateway = Gateway.objects.for_token(token)
    if gateway is None or gateway.code != code:
        return {"status": 401, "detail": "Unknown gateway token for this topic."}
    if not gateway.is_active:
        return {"status": 401, "detail": "This gateway is disabled."}
    result = services.readings_ingest(gateway=gateway, batch=envelope["readings"])
    return {"status": 422 if result.errors else 200, **result.as_dict()}
