from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from citysafety.api import NoSuchEndpoint
from citysafety.health_api import HealthView
from organisation import views as organisation_views

api_v1 = [
    path("", include("monitoring.api.urls")),
    path("", include("warning.api.urls")),
    path("", include("dispatch.api.urls")),
    path("", include("reports.api.urls")),
    path("", include("notifications.api.urls")),
    path("health/", HealthView.as_view(), name="api-health"),
    path("", include("surroundings.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Last: what no endpoint takes. Paths without their final slash are
    # left to APPEND_SLASH's redirect.
    re_path(r"^[\s\S]*/$", NoSuchEndpoint.as_view()),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    # Before the API: the dashboard owns /api/v1/map/sensors/, which the
    # API's last pattern would otherwise answer with a 404.
    path("", include("dashboard.urls")),
    path("api/v1/", include(api_v1)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The second factor of OTP_REQUIRED_ROLES, after the password.
    path("login/code/", organisation_views.otp_verify, name="otp-verify"),
    path("login/code/setup/", organisation_views.otp_setup, name="otp-setup"),
    # Admin and API docs pages have no icon link; browsers ask for this one.
    path("favicon.ico", lambda request: redirect(static("img/logo.svg"), permanent=True)),
    path("work-orders/", include("dispatch.urls")),
    path("warnings/", include("warning.urls")),
    path("reports/", include("reports.urls")),
    path("notifications/", include("notifications.urls")),
]

# The platform's name, in the reader's language (城市安全风险综合监测预警平台).
admin.site.site_header = admin.site.site_title = gettext_lazy("City Safety Risk Monitoring and Early Warning Platform")
if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
