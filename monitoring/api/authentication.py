from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from monitoring.models import Gateway


class GatewayTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` of a gateway; ``request.auth`` is the gateway."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <gateway token>'.")
        gateway = Gateway.objects.for_token(token.strip())
        if gateway is None:
            raise exceptions.AuthenticationFailed("Unknown gateway token.")
        if not gateway.is_active:
            raise exceptions.AuthenticationFailed("This gateway is disabled.")
        return AnonymousUser(), gateway

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="gateways"'


class IsGateway(permissions.BasePermission):
    message = "A gateway token is required: 'Authorization: Bearer <gateway token>'."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Gateway)


class GatewayTokenScheme(OpenApiAuthenticationExtension):
    target_class = GatewayTokenAuthentication
    name = "gatewayToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A gateway's API token."}
