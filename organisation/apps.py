from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganisationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "organisation"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        # Django's way for receivers: signin reaches models (axes, django_otp),
        # which cannot be imported before the app registry is ready.
        from organisation import signin

        signin.connect()
