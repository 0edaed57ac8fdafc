from django.urls import path

from warning import views

urlpatterns = [
    path("closed/", views.closed_warnings, name="closed-warnings"),
    path("verification/", views.verification_queue, name="verification-queue"),
    path("silences/", views.silence_list, name="silences"),
    path("silences/<int:silence_id>/end/", views.silence_end, name="silence-end"),
]
