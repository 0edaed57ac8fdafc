from rest_framework import serializers

from notifications.messages import notification_text
from notifications.models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField(help_text="The sentence, in the request's language.")
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ("id", "kind", "level", "department", "link", "text", "created_at", "read", "read_at")
        read_only_fields = fields

    def get_text(self, obj: Notification) -> str:
        return notification_text(obj.kind, obj.data)

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
