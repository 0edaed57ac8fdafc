from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurroundingsConfig(AppConfig):
    name = "surroundings"
    verbose_name = _("Surroundings")
