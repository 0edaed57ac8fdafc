"""The plain-code pieces of the shapes the API and the pushes share, free of DRF.

A page of 50 work orders, each with its warning, sensor, rule and timeline,
is some 2,000 fields: DRF's generic field machinery spent more time on them
than the database on the page (bench/history.py). The list serializers of
the long lists build the same dicts with plain code; tests compare both
outputs field for field, so the serializer classes stay the one definition
of the shape (and of the OpenAPI schema)."""


def api_datetime(value, zone) -> str | None:
    """A datetime as DRF's DateTimeField gives it: in the current time zone, ISO 8601, "Z" for UTC."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def choice_labels(model, field_name: str) -> dict:
    """A model field's choice labels in the active language, by value."""
    return {choice: str(label) for choice, label in model._meta.get_field(field_name).flatchoices}
