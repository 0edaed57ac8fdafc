from django.urls import path

from monitoring.api import views

urlpatterns = [
    path("readings/", views.ReadingBatchView.as_view(), name="api-readings"),
    path("sensors/<int:sensor_id>/series/", views.SensorSeriesView.as_view(), name="api-sensor-series"),
    path("sensors/geojson/", views.SensorMapView.as_view(), name="api-sensors-geojson"),
    path("districts/geojson/", views.DistrictMapView.as_view(), name="api-districts-geojson"),
    path("evaluation/backlog/", views.EvaluationBacklogView.as_view(), name="api-evaluation-backlog"),
]
