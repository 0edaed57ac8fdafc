"""Shared pieces of the REST API."""

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from citysafety import errors

# The one table from the domain's errors to the API's status codes: an error
# takes the status of its most specific class listed (TooLargeError is an
# InvalidInputError, yet 413).
STATUS_OF_ERROR: dict[type[errors.DomainError], int] = {
    errors.NotFoundError: status.HTTP_404_NOT_FOUND,
    errors.NotAllowedError: status.HTTP_403_FORBIDDEN,
    errors.ConflictError: status.HTTP_409_CONFLICT,
    errors.TooLargeError: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    errors.OverloadedError: status.HTTP_429_TOO_MANY_REQUESTS,
    errors.InvalidInputError: status.HTTP_400_BAD_REQUEST,
    errors.DomainError: status.HTTP_400_BAD_REQUEST,
}


# PostgreSQL's query_canceled (statement_timeout) and lock_not_available (lock_timeout).
BUSY_CODES = {"57014", "55P03"}


def status_of(error: errors.DomainError) -> int:
    return next(STATUS_OF_ERROR[cls] for cls in type(error).__mro__ if cls in STATUS_OF_ERROR)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, errors.DomainError):
        set_rollback()
        # An error in one field has the shape of a serializer's field error:
        # a client reads every field error of the API the same way.
        field = getattr(exc, "field", None)
        retry_after = getattr(exc, "retry_after", None)
        return Response(
            {field: [str(exc)]} if field else {"detail": str(exc)},
            status=status_of(exc),
            headers={"Retry-After": str(retry_after)} if retry_after else None,
        )
    if getattr(getattr(exc, "__cause__", None), "pgcode", None) in BUSY_CODES:
        # A lock or statement timeout: the database is there, but busy.
        return Response(
            {"detail": _("The platform is busy; send this again shortly.")},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "10"},
        )
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
