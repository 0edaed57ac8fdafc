from django.urls import path

from notifications.api import views

urlpatterns = [
    path("notifications/", views.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/unread-count/", views.UnreadCountView.as_view(), name="api-notifications-unread"),
    path("notifications/read-all/", views.MarkAllReadView.as_view(), name="api-notifications-read-all"),
    path("notifications/<int:pk>/read/", views.MarkReadView.as_view(), name="api-notification-read"),
]
