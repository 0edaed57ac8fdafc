"""The API lists' query filters: a value a filter cannot read is refused, never read as "no filter".

django-filter reads ``?open=null`` or ``?open=yes`` as no filter at all, a
decimal or a number in exponent notation as an id, a date without a time or a
time without its zone as it pleases, and words its refusals without the
parameter or what it takes ("Select a valid choice."). ``StrictFilterSet``
gives each of its filters a form field that refuses all of that, with a
message naming the parameter and the values it accepts; the filter backend
answers 400 with them, each parameter at fault under its name (the shape of a
serializer's field errors). An empty value (``?open=``) is refused too: it is
no value the schema allows, and a client that sends one meant something.
An absent parameter is no filter.
"""

import re
from datetime import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django_filters import fields as filter_fields
from drf_spectacular.contrib.django_filters import DjangoFilterExtension

from citysafety.errors import InvalidInputError
from citysafety.parameters import shown, zoned_datetime

# Ids are bigint (DEFAULT_AUTO_FIELD): an id beyond it names nothing and is a mistake.
MAX_ID = 2**63 - 1
TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})
_DIGITS = re.compile(r"[0-9]+")


class _ParameterField:
    """A form field that knows the query parameter it reads (set by StrictFilterSet.form)."""

    parameter = "?"

    def refuse(self, message: str, value: object, code: str = "invalid") -> ValidationError:
        # %-free: translate_validation formats messages with their params.
        text = message % {"name": self.parameter, "value": shown(value)}
        return ValidationError(text.replace("%", "%%"), code=code)


class ChoiceParameter(_ParameterField, filter_fields.ChoiceField):
    def invalid(self, value: object) -> ValidationError:
        values = ", ".join(str(choice) for choice, _label in self.choices if choice not in ("", None))
        message = _("%(name)s must be one of %(values)s, not %(value)s.").replace("%(values)s", values)
        return self.refuse(message, value, "invalid_choice")

    def to_python(self, value) -> str:
        if value is not None and not str(value).strip():
            raise self.invalid(value)  # present but empty: no value the parameter takes
        return super().to_python(value)

    def validate(self, value) -> None:
        if value not in self.empty_values and not self.valid_value(value):
            raise self.invalid(value)
        super().validate(value)


class MultipleChoiceParameter(_ParameterField, filter_fields.MultipleChoiceField):
    def invalid(self, value: object) -> ValidationError:
        values = ", ".join(str(choice) for choice, _label in self.choices if choice not in ("", None))
        message = _(
            "%(name)s must be one of %(values)s, not %(value)s (for several, repeat the parameter: %(name)s=…&%(name)s=…)."
        ).replace("%(values)s", values)
        return self.refuse(message, value, "invalid_choice")

    def validate(self, value) -> None:
        for item in value:
            if not self.valid_value(item):
                raise self.invalid(item)


class BooleanParameter(_ParameterField, forms.Field):
    """true or false (1 or 0 too)."""

    def to_python(self, value) -> bool | None:
        if value is None:  # absent: no filter; an empty value is refused below
            return None
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise self.refuse(_("%(name)s must be true or false, not %(value)s."), value)


class IdParameter(_ParameterField, forms.Field):
    """An object's id: a whole number from 1 (digits only: no sign, decimals or exponent)."""

    def to_python(self, value) -> int | None:
        if value is None:  # absent: no filter; an empty value is refused below
            return None
        text = str(value).strip()
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
            raise self.refuse(
                _("%(name)s must be an id: a whole number from 1 to %(max)s, not %(value)s.").replace(
                    "%(max)s", str(MAX_ID)
                ),
                value,
            )
        return int(text)


class ZonedDateTimeParameter(_ParameterField, forms.Field):
    """An ISO 8601 date and time with its zone (``citysafety.parameters.zoned_datetime``)."""

    def to_python(self, value) -> datetime | None:
        if value is None:  # absent: no filter; an empty value is refused below
            return None
        try:
            return zoned_datetime(str(value), name=self.parameter)
        except InvalidInputError as error:
            raise ValidationError(str(error).replace("%", "%%"), code="invalid") from None


class IdFilter(django_filters.NumberFilter):
    field_class = IdParameter


# Filters by kind → the field that reads their parameter strictly. Subclasses
# first: IsoDateTimeFilter is no subclass of the others, MultipleChoiceFilter is.
STRICT_FIELDS: tuple[tuple[type[django_filters.Filter], type[forms.Field]], ...] = (
    (django_filters.MultipleChoiceFilter, MultipleChoiceParameter),
    (django_filters.ChoiceFilter, ChoiceParameter),
    (django_filters.BooleanFilter, BooleanParameter),
    (django_filters.IsoDateTimeFilter, ZonedDateTimeParameter),
    (IdFilter, IdParameter),
)


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet whose filters refuse what they cannot read (see the module)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for filter_ in self.filters.values():  # a copy per filterset: the class's filters stay as declared
            strict = next((field for kind, field in STRICT_FIELDS if isinstance(filter_, kind)), None)
            if strict is not None:
                filter_.field_class = strict
                vars(filter_).pop("_field", None)  # a field built before the swap (the schema's)

    @property
    def form(self) -> forms.Form:
        if not hasattr(self, "_form"):
            form = super().form
            for name, field in form.fields.items():
                field.parameter = name
        return self._form


class StrictFilterSchema(DjangoFilterExtension):
    """The schema of the filters as StrictFilterSet reads them: an id is a whole number from 1."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field) -> list[dict]:
        parameters = super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        if isinstance(filter_field, IdFilter):
            for parameter in parameters:
                parameter["schema"] = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
        return parameters
