"""Shared pieces of the REST API."""

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.core import signing
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.http import Http404
from django.utils import translation
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import is_list_serializer
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import html
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from citysafety import errors, parameters

# The fast list rows' helpers (DRF-free, for the pushes too), named here for the serializers.
from citysafety.payloads import api_datetime as api_datetime
from citysafety.payloads import choice_labels as choice_labels

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


# --- Keyset pagination -----------------------------------------------------
#
# Lists that grow into millions (warnings, work orders) are paged by keyset:
# a page starts after the (time, id) of the last row shown, so the database
# walks an index from that point and a deep page costs what the first one
# does; OFFSET would read and throw away every row before it. The position
# travels in a signed cursor bound to the listing (path, filters, user), so a
# cursor cannot be forged, replayed on another listing or kept for days.

CURSOR_SALT = "citysafety.api.cursor"
CURSOR_VERSION = 1
CURSOR_MAX_AGE = timedelta(hours=24)
CURSOR_MAX_LENGTH = 512
# What django.core.signing.dumps makes: base64 JSON (a leading "." when
# compressed), a base62 timestamp, a base64 signature.
_CURSOR_SHAPE = re.compile(r"\.?[A-Za-z0-9_-]+:[0-9A-Za-z]+:[A-Za-z0-9_-]+")
NEXT, PREVIOUS = "n", "p"
# Exact counts up to this many rows (an index range read of a few
# milliseconds); beyond it the planner's estimate, flagged as such.
COUNT_EXACT_UP_TO = 1000
# A list the planner reckons larger than this is not counted at all: even
# counting its first thousand rows costs a page's time when the filter is
# checked row by row (a district's sensors, a time range).
ESTIMATE_TRUSTED_FROM = COUNT_EXACT_UP_TO


@dataclass(frozen=True)
class Position:
    """Where a page starts: the (time, id) of a row, and which way to read from it."""

    value: datetime
    id: int
    direction: str = NEXT
    # The list's count as its first page gave it, (rows, is an estimate):
    # later pages repeat it rather than count again.
    count: tuple[int, bool] | None = None


@dataclass
class KeysetPage:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None


def listing_scope(*, path: str, params: dict[str, list[str]], user_id: int | None) -> str:
    """What a cursor is valid for: one list, with one set of filters, for one person."""
    filters = sorted((key, sorted(values)) for key, values in params.items() if key not in {"cursor", "page"})
    text = json.dumps([path, filters, user_id], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cursor_encode(position: Position, *, scope: str) -> str:
    payload = {
        "v": CURSOR_VERSION,
        "s": scope,
        "d": position.direction,
        "k": [position.value.isoformat(), position.id],
    }
    if position.count is not None:
        payload["c"] = list(position.count)
    return signing.dumps(payload, salt=CURSOR_SALT)


def _cursor_error(message: str) -> errors.InvalidInputError:
    return errors.InvalidInputError(message, field="cursor")


def cursor_decode(cursor: str, *, scope: str) -> Position:
    """The position a cursor names, or a 400 that says what is wrong with it."""
    if len(cursor) > CURSOR_MAX_LENGTH or not _CURSOR_SHAPE.fullmatch(cursor):
        raise _cursor_error(
            _("The cursor is malformed: use the next or previous link of a page exactly as it was given.")
        )
    try:
        payload = signing.loads(cursor, salt=CURSOR_SALT, max_age=CURSOR_MAX_AGE)
    except signing.SignatureExpired:
        raise _cursor_error(
            ngettext(
                "The cursor has expired (cursors last %(hours)d hour): start again from the first page.",
                "The cursor has expired (cursors last %(hours)d hours): start again from the first page.",
                int(CURSOR_MAX_AGE.total_seconds() // 3600),
            )
            % {"hours": CURSOR_MAX_AGE.total_seconds() // 3600}
        ) from None
    except (signing.BadSignature, ValueError):
        raise _cursor_error(
            _("The cursor was not issued by this server or was altered: its signature does not match.")
        ) from None
    if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION:
        raise _cursor_error(
            _("The cursor comes from an older version of the platform: start again from the first page.")
        )
    if payload.get("s") != scope:
        raise _cursor_error(
            _(
                "The cursor belongs to another list (other filters, or another user):"
                " start from the first page of this one."
            )
        )
    try:
        raw_value, raw_id = payload["k"]
        value = datetime.fromisoformat(raw_value)
        if value.tzinfo is None or not isinstance(raw_id, int) or payload["d"] not in (NEXT, PREVIOUS):
            raise ValueError
        count = None
        if "c" in payload:
            rows, estimated = payload["c"]
            if not isinstance(rows, int) or not isinstance(estimated, bool):
                raise ValueError
            count = (rows, estimated)
    except (KeyError, TypeError, ValueError):
        # Signed by us, so only an older or newer layout gets here.
        raise _cursor_error(
            _("The cursor comes from an older version of the platform: start again from the first page.")
        ) from None
    return Position(value, raw_id, payload["d"], count)


def keyset_page(
    queryset: QuerySet,
    *,
    field: str,
    position: Position | None,
    page_size: int,
    scope: str,
    count: tuple[int, bool] | None = None,
) -> KeysetPage:
    """One page of ``queryset``, newest ``field`` first (ties: highest id first).

    Two queries: the page's keys from the bare table, where the row
    comparison ``(field, id) < (value, id)`` is one range of a B-tree index
    ending in (field, id) (an OR of two comparisons would not be); then the
    shown rows with whatever ``queryset`` joins and prefetches, for those
    ids alone, so no join is ever made for a row that is not shown.
    """
    keys = queryset.order_by().values_list(field, "pk")
    if position is None:
        found = list(keys.order_by(f"-{field}", "-pk")[: page_size + 1])
        more_after, more_before = len(found) > page_size, False
        found = found[:page_size]
    elif position.direction == NEXT:
        after = keys.filter(TupleLessThan(Tuple(F(field), F("pk")), (position.value, position.id)))
        found = list(after.order_by(f"-{field}", "-pk")[: page_size + 1])
        more_after, more_before = len(found) > page_size, True
        found = found[:page_size]
    else:
        before = keys.filter(TupleGreaterThan(Tuple(F(field), F("pk")), (position.value, position.id)))
        found = list(before.order_by(field, "pk")[: page_size + 1])
        more_after, more_before = True, len(found) > page_size
        found = found[:page_size]
        found.reverse()
    by_id = {row.pk: row for row in queryset.filter(pk__in=[pk for _, pk in found]).order_by()} if found else {}
    # A row deleted between the two queries is left out, never replaced.
    rows = [by_id[pk] for _, pk in found if pk in by_id]

    def cursor(key: tuple | None, direction: str) -> str:
        at = Position(key[0], key[1], direction, count) if key else replace(position, direction=direction, count=count)
        return cursor_encode(at, scope=scope)

    first, last = (found[0], found[-1]) if found else (None, None)
    can_move = bool(found) or position is not None
    return KeysetPage(
        rows=rows,
        next_cursor=cursor(last, NEXT) if more_after and can_move else None,
        previous_cursor=cursor(first, PREVIOUS) if more_before and can_move else None,
    )


def count_estimated(queryset: QuerySet, *, exact_up_to: int = COUNT_EXACT_UP_TO) -> tuple[int, bool]:
    """How many rows ``queryset`` holds: (exact count, False) when small, else (the planner's estimate, True).

    Counting a million rows costs more than the page itself, and so does
    counting the first thousand rows of a filter the index does not cover
    (each row checked on its own). So the planner's estimate first, from
    the table's statistics: a list it reckons large gets "about 120,000";
    a list it reckons small is counted, up to ``exact_up_to`` rows.
    """
    rows = queryset.order_by().values("pk")
    try:
        sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    except EmptyResultSet:  # .none(), or a filter that matched nothing before the query
        return 0, False
    with connections[rows.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    if estimate > ESTIMATE_TRUSTED_FROM:
        return estimate, True
    capped = rows[: exact_up_to + 1].count()
    if capped <= exact_up_to:
        return capped, False
    return max(estimate, capped), True


class KeysetPagination(BasePagination):
    """Keyset pagination for the API: ``?cursor=`` from a page's next and previous links.

    The view names the time field it is ordered by (``keyset_field``); the
    answer keeps the shape of the page-number lists it replaced (``count``,
    ``next``, ``previous``, ``results``), and says whether the count is an
    estimate.
    """

    page_size = 50
    max_page_size = 200
    keyset_field = "created_at"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        page_number = request.query_params.get("page")
        if page_number not in (None, "", "1"):
            raise errors.InvalidInputError(
                _("This list is paged by cursor: follow the next link of a page instead of asking for page %(page)s.")
                % {"page": page_number[:20]},
                field="page",
            )
        size = self._page_size(request)
        user = getattr(request, "user", None)
        scope = listing_scope(
            path=request.path, params=dict(request.query_params.lists()), user_id=getattr(user, "pk", None)
        )
        raw = request.query_params.get("cursor") or None
        position = cursor_decode(raw, scope=scope) if raw else None
        count = position.count if position and position.count else count_estimated(queryset)
        self.count, self.count_is_estimate = count
        field = getattr(view, "keyset_field", self.keyset_field)
        self.page = keyset_page(queryset, field=field, position=position, page_size=size, scope=scope, count=count)
        return self.page.rows

    def _page_size(self, request) -> int:
        raw = request.query_params.get("page_size")
        if raw is None:
            return self.page_size
        # ASCII digits only: str.isdigit() takes "²" (which int() refuses) and "٣".
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise errors.InvalidInputError(
                _("Give page_size as a whole number from 1 to %(max)d.") % {"max": self.max_page_size},
                field="page_size",
            )
        return int(raw)

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), "page")
        return replace_query_param(url, "cursor", cursor)

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.count,
                "count_is_estimate": self.count_is_estimate,
                "next": self._link(self.page.next_cursor),
                "previous": self._link(self.page.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["count", "count_is_estimate", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123},
                "count_is_estimate": {
                    "type": "boolean",
                    "description": (
                        f"True when the list holds more than {COUNT_EXACT_UP_TO} rows: count is then the database's"
                        " estimate. Later pages repeat the first page's count."
                    ),
                },
                "next": link,
                "previous": link,
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": (
                    "The position of a page: take it from the next or previous link of the page before (a cursor"
                    " this server did not sign for this list, or one over a day old, is a 400 naming cursor)."
                ),
                "schema": {
                    "type": "string",
                    "maxLength": CURSOR_MAX_LENGTH,
                    "pattern": f"^({_CURSOR_SHAPE.pattern})?$",
                },
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {self.max_page_size} (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


class NullableIntegerField(serializers.IntegerField):
    """A whole number or null, in a JSON body or a form alike.

    A form (multipart, urlencoded) has no spelling of null: an empty value
    is null (as DRF reads it), and so is the word ``null``, which clients
    that write a form from the schema send for it (schemathesis does).
    """

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def get_value(self, dictionary):
        value = super().get_value(dictionary)
        if html.is_html_input(dictionary) and value == "null":
            return None
        return value


class ChoiceLabelField(serializers.CharField):
    """A choice's label in the request's language, as ``get_<field>_display()`` gives it.

    Not ``CharField(source="get_level_display")``: DRF inspects a callable's
    signature on every call, and ``get_<field>_display`` builds a dict of
    the field's choices, translating every label, on every call. Here the
    labels are translated once per serializer and language: most of a list
    page's time went there.
    """

    def __init__(self, choice_field: str, **kwargs):
        self.choice_field = choice_field
        self._labels: dict[str, dict] = {}
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value) -> str:
        language = get_language() or ""
        labels = self._labels.get(language)
        if labels is None:
            field = value._meta.get_field(self.choice_field)
            labels = self._labels[language] = {choice: str(label) for choice, label in field.flatchoices}
        choice = getattr(value, self.choice_field)
        return labels.get(choice, str(choice))


# The map layers' view, as every layer documents it (citysafety.parameters.bbox reads it).
BBOX_PARAMETER = OpenApiParameter(
    "bbox",
    {"type": "string", "pattern": parameters.BBOX_PATTERN},
    required=True,
    description="west,south,east,north in degrees (WGS 84), west <= east and south <= north",
)
