from rest_framework import serializers

from reports.performance import GROUPINGS


class ResponseTimesRowSerializer(serializers.Serializer):
    group = serializers.CharField(help_text="The department's or the risk domain's name.")
    orders = serializers.IntegerField(help_text="Work orders dispatched in the period.")
    overdue = serializers.IntegerField(help_text="Of those, how many missed their acknowledgement deadline.")
    unacknowledged = serializers.IntegerField(help_text="Of those, how many are not acknowledged yet.")
    acknowledge_median_minutes = serializers.FloatField(allow_null=True)
    acknowledge_p90_minutes = serializers.FloatField(allow_null=True)
    arrive_median_minutes = serializers.FloatField(allow_null=True)
    arrive_p90_minutes = serializers.FloatField(allow_null=True)
    close_median_minutes = serializers.FloatField(allow_null=True)
    close_p90_minutes = serializers.FloatField(allow_null=True)


class ResponseTimesSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the period.")
    end = serializers.DateField(help_text="Last day of the period, included.")
    by = serializers.ChoiceField(choices=list(GROUPINGS))
    rows = ResponseTimesRowSerializer(many=True)


class EventSummarySerializer(serializers.Serializer):
    warning = serializers.IntegerField(source="warning_id")
    text = serializers.SerializerMethodField(help_text="The summary in the language asked for (Accept-Language).")
    text_zh = serializers.CharField()
    text_en = serializers.CharField()
    written_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    edited_by = serializers.SerializerMethodField()
    archived_at = serializers.DateTimeField(allow_null=True)
    archived_by = serializers.SerializerMethodField()

    def get_text(self, summary) -> str:
        return summary.text_in(self.context.get("language", "en"))

    def _person(self, user) -> str | None:
        return None if user is None else (user.get_full_name() or user.get_username())

    def get_edited_by(self, summary) -> str | None:
        return self._person(summary.edited_by)

    def get_archived_by(self, summary) -> str | None:
        return self._person(summary.archived_by)


class EventSummaryEditSerializer(serializers.Serializer):
    text_zh = serializers.CharField(min_length=1, max_length=20_000, trim_whitespace=True)
    text_en = serializers.CharField(min_length=1, max_length=20_000, trim_whitespace=True)
    archive = serializers.BooleanField(
        default=False, help_text="Archive the summary: it becomes the record and can no longer change."
    )
