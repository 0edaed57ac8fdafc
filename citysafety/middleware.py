from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _


class DatabaseUnavailableMiddleware:
    """Answer 503, not 500, when the database cannot be reached.

    DRF views answer through ``citysafety.api.exception_handler``; this
    catches the rest (pages, session loading, authentication).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            response = JsonResponse({"detail": _("The database is unavailable; try again shortly.")}, status=503)
            response["Retry-After"] = "30"
            return response
        return None
