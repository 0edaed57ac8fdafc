"""The readings API's bodies, for its schema.

Ingestion validates items in plain code (``monitoring.ingest``, the hot
path); these serializers only describe to the OpenAPI schema what it takes
and answers.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers


class ReadingBatchSerializer(serializers.ListSerializer):
    pass


# The body is a list of readings and the example is one whole batch:
# without many=False drf-spectacular wraps the example in a second list.
extend_schema_serializer(many=False)(ReadingBatchSerializer)


class ReadingSerializer(serializers.Serializer):
    # As the sensor's code is: ingestion refuses the item otherwise (422).
    sensor = serializers.CharField(min_length=1, max_length=40, help_text="Sensor code")
    observed_at = serializers.DateTimeField(
        help_text=(
            "ISO 8601 with a time zone; at most INGEST_MAX_FUTURE_SECONDS ahead of the server clock and "
            "INGEST_MAX_AGE_DAYS old, or the item is refused (422)"
        )
    )
    value = serializers.FloatField(help_text="A finite number; NaN and Infinity are refused (422)")

    class Meta:
        list_serializer_class = ReadingBatchSerializer


def reading_batch() -> ReadingBatchSerializer:
    """The request body: 1 to INGEST_MAX_BATCH readings (an empty batch is 400, a longer one 413)."""
    return ReadingSerializer(many=True, min_length=1, max_length=settings.INGEST_MAX_BATCH)


class ReadingErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the refused item in the batch, from 0")
    field = serializers.CharField(help_text="The item's field at fault; empty when the item is not an object")
    message = serializers.CharField()


class ReadingBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Readings stored now")
    duplicates = serializers.IntegerField(help_text="Readings already stored for the same sensor and time")
    errors = ReadingErrorSerializer(many=True, help_text="Every refused item; empty when all were stored")
