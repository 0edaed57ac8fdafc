from django.urls import path

from dashboard import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    # Under the API's prefix with the rest of the API; the dashboard owns it.
    path("api/v1/map/sensors/", api.SensorClusterView.as_view(), name="api-map-sensors"),
]
