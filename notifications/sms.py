"""The SMS interface: one contract, a backend chosen by ``settings.SMS_BACKEND``.

No provider is bundled. A provider's backend subclasses ``BaseSmsBackend``
and raises ``SmsError`` for a message it could not send.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class SmsError(Exception):
    """The provider did not take the message."""


class BaseSmsBackend:
    def send(self, *, phone: str, text: str) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Development: writes each message to the log instead of sending it."""

    def send(self, *, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", phone, text)


class MemorySmsBackend(BaseSmsBackend):
    """Tests: keeps each message in ``outbox``, like Django's locmem e-mail backend."""

    outbox: list[dict] = []

    def send(self, *, phone: str, text: str) -> None:
        MemorySmsBackend.outbox.append({"phone": phone, "text": text})


def get_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
