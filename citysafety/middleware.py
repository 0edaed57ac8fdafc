from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.handlers.wsgi import LimitedStream
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.gzip import GZipMiddleware
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citysafety import errors

# The most of a refused body read and thrown away (see below). A batch of
# INGEST_MAX_BATCH readings is some 100 KB; the largest mistake seen, 200,000
# readings, 19 MB. Beyond this the client is cut off unread: reading more
# would hold a sync worker for as long as the client cares to send.
DRAIN_MAX_BYTES = 64 * 1024 * 1024
_DRAIN_CHUNK = 256 * 1024


class DrainUnreadBodyMiddleware:
    """Read the rest of a request's body that the answer did not need, before answering.

    A WSGI server closes the connection after the answer (gunicorn's sync
    workers always do); body bytes still unread in the socket then make the
    kernel reset the connection, and a client still sending (Python's urllib,
    requests) gets "broken pipe" instead of the 413 or 400 it was sent: only
    clients that read while they send (curl) see it. Read to its end, the
    body is gone before the answer leaves. ASGI servers (daphne) read the
    whole body before the application runs, so there is nothing to drain.
    Outermost, so that it runs after every other middleware has answered.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # request.body replaces the stream with the bytes it read: nothing left.
        stream = request.__dict__.get("_stream")
        # Past the bound the server closes the connection unread, as before.
        # (No "Connection: close" header: WSGI forbids an application to set
        # one, and runserver's wsgiref enforces it.)
        if isinstance(stream, LimitedStream) and 0 < stream.limit - stream._pos <= DRAIN_MAX_BYTES:
            while stream.read(_DRAIN_CHUNK):
                pass
        return response


# Below this an answer goes as it is: gzip would save a few hundred bytes at
# best, and cost the time to compress it.
COMPRESS_MIN_BYTES = 1024
# The schema is served as YAML (vnd.oai.openapi) unless JSON is asked for.
_COMPRESSED_TYPES = (
    "application/json",
    "application/geo+json",
    "application/vnd.oai.openapi",
    "application/vnd.oai.openapi+json",
)


class ApiCompressionMiddleware(GZipMiddleware):
    """gzip the API's JSON answers (and its schema) over ``COMPRESS_MIN_BYTES`` when the client accepts it.

    The sensors' GeoJSON is some 270 KB, a page of warnings or the schema
    100 KB or more; gzipped, a tenth. Why this is safe from BREACH (a secret
    guessed from the compressed length, with text the attacker chooses
    reflected beside it): these bodies hold no secret. The session and the
    CSRF token travel in cookies and headers, which are not compressed, and
    no API answer carries the CSRF token in its body; what an answer holds
    the caller may read anyway. Pages (HTML) are left alone: their forms
    carry the CSRF token next to text a visitor can choose (a search). On top,
    Django pads each gzip stream with random bytes ("Heal the Breach").
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        media_type = response.get("Content-Type", "").split(";")[0].strip()
        if (
            not request.path.startswith("/api/")
            or media_type not in _COMPRESSED_TYPES
            or response.streaming
            or len(response.content) < COMPRESS_MIN_BYTES
        ):
            return response
        return super().process_response(request, response)


class ApiJsonErrorsMiddleware:
    """Under /api/, every error is the documented JSON error, ``{"detail": "…"}``.

    DRF answers what its views refuse; this answers what Django refuses
    around them, as HTML pages otherwise: a form over Django's limits (too
    many fields or files, too large), a malformed request, a host the
    settings do not allow (refused by a middleware before any view), a 500.
    With DEBUG on, a 500 keeps Django's page with its traceback.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.streaming
            and response.get("Content-Type", "").split(";")[0] != "application/json"
            and not (response.status_code >= 500 and settings.DEBUG)
        ):
            return _json_error(response.status_code, _message_for_status(response.status_code))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith("/api/"):
            return None
        if isinstance(exception, TooManyFieldsSent):
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            message = ngettext(
                "The form has too many fields: at most %(max)d field.",
                "The form has too many fields: at most %(max)d fields.",
                limit,
            ) % {"max": limit}
        elif isinstance(exception, TooManyFilesSent):
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
            message = ngettext(
                "The form has too many files: at most %(max)d file.",
                "The form has too many files: at most %(max)d files.",
                limit,
            ) % {"max": limit}
        elif isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            message = ngettext(
                "The request body is too large: at most %(max)d byte besides uploaded files.",
                "The request body is too large: at most %(max)d bytes besides uploaded files.",
                limit,
            ) % {"max": limit}
        elif isinstance(exception, SuspiciousOperation | BadRequest):
            message = _message_for_status(400)
        else:
            return None
        return _json_error(400, message)


def _message_for_status(status: int) -> str:
    if status == 400:
        return _("The request could not be read: check its body, its headers and the server's address.")
    if status == 413:
        return _("The request body is too large.")
    if status >= 500:
        return _("The server failed to answer this request; try again shortly.")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:  # a status Python does not name
        reason = ""
    return _("The server refused this request (%(status)d %(reason)s).") % {"status": status, "reason": reason}


def _json_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


class DatabaseUnavailableMiddleware:
    """Answer 503, not 500, when the database cannot be reached.

    DRF views answer through ``citysafety.api.exception_handler``; this
    catches the rest (pages, session loading, authentication).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            # The session and the person, loaded here: the middlewares after
            # this one (the idle sign-out, the second factor) read them before
            # any view runs, and an exception raised there would reach Django
            # as a 500 without passing process_exception. Free for a request
            # without a session cookie (a gateway's).
            if hasattr(request, "user"):
                request.user.is_authenticated  # noqa: B018 - evaluated for its database read
        except (OperationalError, InterfaceError):
            return self._unavailable()
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            return self._unavailable()
        return None

    @staticmethod
    def _unavailable() -> HttpResponse:
        response = JsonResponse({"detail": _("The database is unavailable; try again shortly.")}, status=503)
        response["Retry-After"] = "30"
        return response


class DomainErrorMiddleware:
    """Pages answer a refused operation with the 404 or 403 page or a message, never a 500.

    Not found and not allowed become the site's own 404 and 403 pages; any
    other refusal goes back where the person came from, the reason shown as
    a message. DRF views answer through ``citysafety.api.exception_handler``
    and never reach here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Raised here, Django's own handling renders the 404 and 403 pages.
        if isinstance(exception, errors.NotFoundError):
            raise Http404(str(exception)) from exception
        if isinstance(exception, errors.NotAllowedError):
            raise PermissionDenied(str(exception)) from exception
        if isinstance(exception, errors.DomainError):
            messages.error(request, str(exception))
            return HttpResponseRedirect(_way_back(request))
        return None


def _way_back(request: HttpRequest) -> str:
    """The page the person came from, if it is ours; else the landing page.

    Not the page that refused a GET: it would refuse again, and again.
    """
    referer = request.headers.get("referer", "")
    refused_itself = request.method == "GET" and referer == request.build_absolute_uri()
    if (
        referer
        and not refused_itself
        and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return referer
    return reverse("home")
