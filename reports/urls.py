from django.urls import path

from reports import views

urlpatterns = [
    path("response-times/", views.response_times, name="response-times"),
    path("summaries/<int:warning_id>/", views.event_summary, name="event-summary"),
]
