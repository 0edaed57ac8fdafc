from django.urls import path

from dispatch import views

urlpatterns = [
    path("", views.work_orders, name="work-orders"),
    path("photos/<int:photo_id>/", views.work_order_photo, name="work-order-photo"),
    path(
        "photos/<int:photo_id>/thumbnail/",
        views.work_order_photo,
        {"thumbnail": True},
        name="work-order-photo-thumbnail",
    ),
]
