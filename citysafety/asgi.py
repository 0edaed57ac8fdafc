import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citysafety.settings")
# No persistent database connections under ASGI, whatever the environment
# says for the other processes (see DB_CONN_MAX_AGE in the settings).
os.environ["DB_CONN_MAX_AGE"] = "0"
# Set Django up before anything imports models through the routes.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from citysafety.routing import websocket_urlpatterns  # noqa: E402
from organisation.sockets import SignInSocketMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(SignInSocketMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
