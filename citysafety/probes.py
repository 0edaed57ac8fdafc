"""/healthz, /readyz and /metrics, answered before the rest of the middleware.

Load balancers, compose health checks and Prometheus reach the process by
its address over plain HTTP: Django's host check (ALLOWED_HOSTS), the HTTPS
redirect and sessions must not stand in their way, and none of them is
needed to say whether the process works.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from citysafety import health, metrics

PATHS = {"/healthz", "/readyz", "/metrics"}


class ProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/") or "/"
        if path not in PATHS:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        if path == "/healthz":
            response = JsonResponse({"status": "ok"})
        elif path == "/readyz":
            response = readyz()
        else:
            response = metrics.scrape(request)
        response["Cache-Control"] = "no-store"
        return response


def readyz() -> JsonResponse:
    ready, checks = health.readiness()
    return JsonResponse(
        {"status": "ready" if ready else "unready", "checks": {check.name: health.as_json(check) for check in checks}},
        status=200 if ready else 503,
    )
