"""Forms of the monitoring app: the sensor form places the sensor through ``monitoring.locations``."""

from django import forms
from django.utils.translation import gettext_lazy as _

from monitoring import locations
from monitoring.models import Sensor


class SensorForm(forms.ModelForm):
    """The district follows from the location unless the administrator ticks the override.

    The override is a choice made on this save, not a stored flag: a sensor
    edited without touching its location or district keeps the district it
    has (an earlier override stays), while moving the point takes the
    district it now lies in unless the box is ticked again.
    """

    district_override = forms.BooleanField(
        label=locations.OVERRIDE_LABEL,
        required=False,
        help_text=_(
            "Leave unticked and the district follows from the location (leave the district empty to have it "
            "filled in). Tick to keep a district other than the one the point lies in, e.g. a sensor on a "
            "border road that the neighbouring district looks after."
        ),
    )

    class Meta:
        model = Sensor
        fields = (
            "code",
            "name",
            "sensor_type",
            "is_active",
            "location",
            "district",
            "address",
            "owner_department",
            "gateway",
            "asset",
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        location = cleaned.get("location")
        if location is None:  # the field's own error says why
            return cleaned
        district = cleaned.get("district")
        override = bool(cleaned.get("district_override"))
        moved = bool({"location", "district"} & set(self.changed_data))
        if self.instance.pk and not moved and not override and district is not None:
            # Nothing about the place changed: keep the district the sensor
            # has (perhaps set by hand before), but never a point off the map.
            override = True
        try:
            placement = locations.sensor_place(
                location=location,
                district=district,
                district_chosen="district" in self.changed_data,
                override=override,
            )
        except locations.LocationError as error:
            self.add_error(error.field, str(error))
            return cleaned
        cleaned["district"] = placement.district
        return cleaned


class ReadingArchiveForm(forms.Form):
    """An archive of readings to import (``monitoring.services.readings_import``)."""

    file = forms.FileField(
        label=_("Archive file"),
        help_text=_(
            "CSV (UTF-8, GBK or GB18030, as Excel saves it) or Excel (.xlsx) with the columns sensor (the sensor's "
            "code), observed_at and value, one reading a row. Times without a zone are taken in the platform's time "
            "zone. Readings of any age are accepted."
        ),
    )
    format = forms.ChoiceField(
        label=_("Format"),
        required=False,
        choices=[("", _("From the file name")), ("csv", "CSV"), ("xlsx", "Excel (.xlsx)")],
    )
