from django.apps import AppConfig


class WarningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "warning"
