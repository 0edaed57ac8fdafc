"""A request id in the response header and in every log line of the request.

Taken from the X-Request-ID header the reverse proxy (or the caller) sends,
so one id follows a request through the proxy's log and ours; made here when
there is none, or when the one sent is not a plausible id (a header is
outside input: it must not write arbitrary text into the logs).
"""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_PLAUSIBLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# A context variable, not a thread-local: under daphne a request's sync code
# runs on a worker thread, and asgiref carries context variables over to it.
current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get(HEADER, "")
        request_id = sent if _PLAUSIBLE.fullmatch(sent) else uuid.uuid4().hex
        request.request_id = request_id
        # Not reset on the way out: Django logs the response's status (a 404,
        # a 500) after the middleware has returned. request_finished resets it.
        current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


@receiver(request_finished)
def _forget_request_id(sender, **kwargs) -> None:
    # A WSGI worker thread serves the next request with the same context.
    current.set(None)


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request it was logged in (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get()
        return True
