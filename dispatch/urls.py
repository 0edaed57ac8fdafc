from django.urls import path

from dispatch import views

urlpatterns = [
    path("", views.work_orders, name="work-orders"),
]
