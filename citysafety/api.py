"""Shared pieces of the REST API."""

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import is_list_serializer
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

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


def language_asked(request: Request, *, default: str = "en") -> str:
    """The language an ``Accept-Language`` header asks for, if the platform speaks it; else ``default``.

    For answers to integrators (gateways), who read English unless they ask:
    unlike the pages, no cookie and no site default (Chinese) apply.
    """
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return default


# --- The error bodies, for the schema ------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """What every refusal but a field's says: ``{"detail": "…"}``."""

    detail = serializers.CharField(help_text="What went wrong, for a person")


class FieldErrorsSerializer(serializers.Serializer):
    """A refusal of fields: each field at fault with its messages, as DRF's serializers answer."""


class _FieldErrorsSchema(OpenApiSerializerExtension):
    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema, direction) -> dict:
        return {
            "type": "object",
            "description": "Each field at fault (non_field_errors: the body as a whole) with its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "minProperties": 1,
        }


# A 400 says one thing ({"detail"}: a malformed body, a domain error) or
# names fields (a serializer's or a filter's validation).
BAD_REQUEST = PolymorphicProxySerializer(
    component_name="BadRequest",
    serializers=[ErrorSerializer, FieldErrorsSerializer],
    resource_type_field_name=None,
)


def error_response(description: str, serializer: object = ErrorSerializer) -> OpenApiResponse:
    return OpenApiResponse(serializer, description=description)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, with the answers DRF and this module give on their own.

    Views document what their own code answers (200, 409, 413, …); every
    operation gets here the errors of the machinery around it, where they
    can happen: 400 where a body or filters are validated, 401/403 where a
    permission is needed, 404 for an object in the path or a page number,
    415 where a body is parsed. All have the bodies ``exception_handler``
    gives them.
    """

    def _unwrap_list_serializer(self, serializer, direction):
        schema = super()._unwrap_list_serializer(serializer, direction)
        # DRF enforces a ListSerializer's min_length and max_length; say so.
        if schema and is_list_serializer(serializer):
            if serializer.min_length is not None:
                schema["minItems"] = serializer.min_length
            if serializer.max_length is not None:
                schema["maxItems"] = serializer.max_length
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self._machinery_errors().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return dict(sorted(responses.items()))

    def _machinery_errors(self) -> dict[str, OpenApiResponse]:
        errors = {}
        has_body = self.method in ("POST", "PUT", "PATCH")
        if has_body or self._get_filter_parameters():
            errors["400"] = error_response("Invalid input: the fields at fault, or what is wrong.", BAD_REQUEST)
        if not all(issubclass(p, AllowAny) for p in self.view.permission_classes):
            if any(a.authenticate_header(None) for a in self.view.get_authenticators()):
                errors["401"] = error_response("No valid credentials.")
            else:
                errors["403"] = error_response("Not signed in, or not allowed to do this.")
        if "{" in self.path or (self._is_list_view() and self._get_paginator()):
            errors["404"] = error_response("No such object here, or no such page.")
        if has_body:
            errors["415"] = error_response("The body is not in a media type this operation takes.")
        return errors


class NoSuchEndpoint(APIView):
    """Any path under /api/v1/ that names no endpoint: a JSON 404, as from the endpoints
    themselves, not the pages' HTML 404 (e.g. /api/v1/warnings/0.5/, which no route takes)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    schema = None

    def handle(self, request: Request, *args, **kwargs) -> Response:
        raise NotFound()

    get = post = put = patch = delete = head = options = handle
