"""Shared pieces of the REST API."""

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """An operation that the current state does not allow, said for a person."""

    status_code = status.HTTP_409_CONFLICT


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response({"detail": str(exc)}, status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    ):
        return Response(
            {"detail": _("The database is unavailable; try again shortly.")},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "30"},
        )
    if isinstance(exc, Http404) and str(exc).endswith("matches the given query."):
        # Django's own "No WorkOrder matches the given query." is English and
        # names a model; DRF's "Not found." is translated and says enough.
        exc = NotFound()
    return drf_exception_handler(exc, context)
