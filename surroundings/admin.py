"""The surroundings in admin: one list per layer, each with its import page (CSV, Excel, GeoJSON)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from citysafety.errors import InvalidInputError
from citysafety.tables import TableError
from surroundings import services
from surroundings.models import Camera, EmergencyResource, ProtectionTarget, RiskArea


class PlacesFileForm(forms.Form):
    file = forms.FileField(label=_("File"))
    format = forms.ChoiceField(
        label=_("Format"),
        required=False,
        choices=[
            ("", _("From the file name")),
            ("csv", "CSV"),
            ("xlsx", "Excel (.xlsx)"),
            ("geojson", "GeoJSON"),
        ],
    )


class PlaceForm(forms.ModelForm):
    def clean(self) -> dict:
        # The district follows from where the place lies, as in an import.
        cleaned = super().clean()
        name = "boundary" if self._meta.model is RiskArea else "location"
        if cleaned.get(name) is not None:
            probe = self._meta.model(**{name: cleaned[name]})
            try:
                services.place_locate(probe)
            except InvalidInputError as error:
                self.add_error(name, str(error))
            else:
                cleaned[name] = getattr(probe, name)
                self.instance.district = probe.district
        return cleaned


class PlaceAdmin(LeafletGeoAdmin):
    form = PlaceForm
    change_list_template = "admin/surroundings/change_list.html"
    list_select_related = ["district"]
    search_fields = ["code", "name", "address"]
    list_filter = ["kind", "district"]
    readonly_fields = ["district", "updated_at"]
    # Refused rows listed on the page at most; the summary counts them all.
    IMPORT_ROWS_SHOWN = 200
    layer = ""

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [path("import/", self.admin_site.admin_view(self.import_view), name=name), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        result = None
        if request.method == "POST":
            form = PlacesFileForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    result = services.places_import(
                        layer=self.layer, data=upload.read(), name=upload.name, kind=form.cleaned_data["format"] or None
                    )
                except TableError as error:
                    form.add_error("file", str(error))
        else:
            form = PlacesFileForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import %(places)s") % {"places": self.opts.verbose_name_plural},
            "form": form,
            "result": result,
            "columns": services.import_columns(self.model),
            "refused_shown": result.refused_by_row()[: self.IMPORT_ROWS_SHOWN] if result else [],
        }
        return TemplateResponse(request, "admin/surroundings/import.html", context)


@admin.register(ProtectionTarget)
class ProtectionTargetAdmin(PlaceAdmin):
    layer = "targets"
    list_display = ["code", "name", "kind", "district", "capacity", "contact_name", "contact_phone"]


@admin.register(EmergencyResource)
class EmergencyResourceAdmin(PlaceAdmin):
    layer = "resources"
    list_display = ["code", "name", "kind", "district", "team_size", "speciality", "contact_phone"]


@admin.register(RiskArea)
class RiskAreaAdmin(PlaceAdmin):
    layer = "risk-areas"
    list_display = ["code", "name", "kind", "grade", "assessed_on", "district"]
    list_filter = ["kind", "grade", "district"]


@admin.register(Camera)
class CameraAdmin(PlaceAdmin):
    layer = "cameras"
    # An address typed without its scheme is taken as https, Django 6's default.
    formfield_overrides = {**PlaceAdmin.formfield_overrides, models.URLField: {"assume_scheme": "https"}}
    list_display = ["code", "name", "district", "stream_url"]
    list_filter = ["district"]
