"""Admin for the city's organisation: districts, departments, their members,
and each user's department on the user page (the auth app's UserAdmin is
replaced by a subclass with a membership inline).

Apps above add what they know: monitoring re-registers the district admin
with its sensor count.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as AuthUserAdmin
from django.contrib.auth.models import AbstractUser
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from organisation.models import Department, District, Membership

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
