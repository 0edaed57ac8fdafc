from django.urls import path

from reports.api.views import EventSummaryView, ResponseTimesView

urlpatterns = [
    path("reports/response-times/", ResponseTimesView.as_view(), name="api-response-times"),
    path("warnings/<int:pk>/summary/", EventSummaryView.as_view(), name="api-event-summary"),
]
