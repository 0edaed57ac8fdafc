"""Admin for the city's organisation: districts, departments, their members,
and each user's department on the user page (the auth app's UserAdmin is
replaced by a subclass with a membership inline).

Apps above add what they know: monitoring re-registers the district admin
with its sensor count.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as AuthUserAdmin
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from leaflet.admin import LeafletGeoAdmin

from citysafety.errors import InvalidInputError
from organisation.models import Department, District, DutyShift, Membership
from organisation.services import ROSTER_COLUMNS, duty_roster_import, duty_shift_people_problems

User = get_user_model()


def with_count(queryset: QuerySet, **counts: str) -> QuerySet:
    """Annotate counts of related rows, keeping the model's default order.

    A GROUP BY query drops ``Meta.ordering``; the list sets its own order,
    but the autocomplete pages the queryset as it comes.
    """
    annotations = {name: Count(relation) for name, relation in counts.items()}
    return queryset.annotate(**annotations).order_by(*queryset.model._meta.ordering)


class DistrictListFilter(admin.RelatedFieldListFilter):
    """Filter by district without loading every district's boundary for the choices."""

    def field_choices(self, field: object, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return list(District.objects.order_by("code").values_list("pk", "name"))


@admin.register(District)
class DistrictAdmin(LeafletGeoAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[District]:
        # A boundary can weigh hundreds of kilobytes: the list and the
        # autocomplete never show it, the change form loads it when it asks.
        return super().get_queryset(request).defer("boundary")


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("user", "department")

    def clean(self) -> dict:
        cleaned = super().clean()
        user = cleaned.get("user")
        if user is not None and user.pk is not None:
            other = Membership.objects.filter(user=user).exclude(pk=self.instance.pk).select_related("department")
            other = other.first()
            if other is not None:
                self.add_error(
                    "user",
                    _(
                        "%(user)s already works for %(department)s; a user belongs to one department. "
                        "Remove that membership first, or change it on the user's page."
                    )
                    % {"user": user, "department": other.department},
                )
        return cleaned


class DepartmentMembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    fields = ("user",)
    autocomplete_fields = ("user",)
    extra = 0
    verbose_name = _("member")
    verbose_name_plural = _("members")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "district", "email", "phone", "member_count")
    list_filter = ("kind", ("district", DistrictListFilter))
    list_select_related = ("district",)
    search_fields = ("code", "name", "email")
    autocomplete_fields = ("district",)
    inlines = (DepartmentMembershipInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Department]:
        # The district is joined (list_select_related) for its name, not its boundary.
        queryset = super().get_queryset(request).defer("district__boundary")
        return with_count(queryset, member_count="memberships")

    @admin.display(description=_("members"), ordering="member_count")
    def member_count(self, obj: Department) -> int:
        return obj.member_count


class UserMembershipInline(admin.StackedInline):
    model = Membership
    form = MembershipForm
    fields = ("department",)
    autocomplete_fields = ("department",)
    can_delete = True
    max_num = 1
    verbose_name = verbose_name_plural = _("department")


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(AuthUserAdmin):
    inlines = (*AuthUserAdmin.inlines, UserMembershipInline)
    list_display = (*AuthUserAdmin.list_display, "department", "roles")
    list_filter = (*AuthUserAdmin.list_filter, "membership__department")
    list_select_related = ("membership__department",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[AbstractUser]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("department"), ordering="membership__department__name")
    def department(self, obj: AbstractUser) -> str:
        membership = getattr(obj, "membership", None)
        return membership.department.name if membership else "-"

    @admin.display(description=_("roles"))
    def roles(self, obj: AbstractUser) -> str:
        return ", ".join(group.name for group in obj.groups.all()) or "-"


class DutyShiftForm(forms.ModelForm):
    class Meta:
        model = DutyShift
        fields = ("department", "date", "shift", "person_on_duty", "leader_on_duty", "deputy")

    def clean(self) -> dict:
        cleaned = super().clean()
        people = {role: cleaned.get(role) for role in ("person_on_duty", "leader_on_duty", "deputy")}
        for role, message in duty_shift_people_problems(department=cleaned.get("department"), people=people).items():
            self.add_error(role, message)
        return cleaned


class RosterImportForm(forms.Form):
    file = forms.FileField(
        label=_("Roster sheet"),
        help_text=_("A .csv or .xlsx file whose first row names the columns: %(columns)s.")
        % {"columns": ", ".join(ROSTER_COLUMNS)},
    )


@admin.register(DutyShift)
class DutyShiftAdmin(admin.ModelAdmin):
    form = DutyShiftForm
    list_display = ("date", "shift", "unit", "person_on_duty", "leader_on_duty", "deputy")
    list_filter = ("shift", "department", "date")
    list_select_related = ("department", "person_on_duty", "leader_on_duty", "deputy")
    date_hierarchy = "date"
    search_fields = ("department__name", "department__code", "person_on_duty__username", "leader_on_duty__username")
    autocomplete_fields = ("department", "person_on_duty", "leader_on_duty", "deputy")
    change_list_template = "admin/organisation/dutyshift/change_list.html"

    @admin.display(description=_("department"), ordering="department__name")
    def unit(self, obj: DutyShift) -> str:
        return obj.department.name if obj.department_id else str(_("City operations centre"))

    def get_urls(self) -> list:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="organisation_dutyshift_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        form = RosterImportForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = duty_roster_import(content=upload.read(), filename=upload.name)
            except InvalidInputError as exc:
                form.add_error("file", str(exc))
            else:
                level = messages.WARNING if result.errors else messages.SUCCESS
                self.message_user(
                    request,
                    ngettext(
                        "%(created)s roster row added, %(updated)s replaced, %(errors)s refused.",
                        "%(created)s roster rows added, %(updated)s replaced, %(errors)s refused.",
                        result.created,
                    )
                    % {"created": result.created, "updated": result.updated, "errors": len(result.errors)},
                    level,
                )
                if not result.errors:
                    return redirect("admin:organisation_dutyshift_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import the duty roster"),
            "opts": self.model._meta,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/organisation/dutyshift/import.html", context)
