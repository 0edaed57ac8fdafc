from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety.api import KeysetPagination, error_response
from notifications import selectors, services
from notifications.api.filters import NotificationFilter
from notifications.api.serializers import MarkedSerializer, NotificationSerializer, UnreadCountSerializer


class NotificationListView(generics.ListAPIView):
    """The signed-in person's own notifications, newest first."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    pagination_class = KeysetPagination
    keyset_field = "created_at"

    def get_queryset(self):
        return selectors.notifications_of(self.request.user.pk).order_by("-created_at", "-id")


class UnreadCountView(APIView):
    @extend_schema(responses={200: UnreadCountSerializer})
    def get(self, request):
        """How many of the person's notifications are unread (the bell's number)."""
        return Response({"unread": selectors.unread_count(request.user.pk)})


class MarkReadView(APIView):
    @extend_schema(
        request=None, responses={200: NotificationSerializer, 404: error_response("Not a notification of yours.")}
    )
    def post(self, request, pk: int):
        """Mark one of the person's notifications read."""
        notification = services.notification_mark_read(user=request.user, notification_id=pk)
        return Response(NotificationSerializer(notification).data)


class MarkAllReadView(APIView):
    @extend_schema(request=None, responses={200: MarkedSerializer})
    def post(self, request):
        """Mark every notification of the person read."""
        return Response({"marked": services.notifications_mark_all_read(user=request.user)})
