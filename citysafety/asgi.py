import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citysafety.settings")
# No persistent database connections under ASGI, whatever the environment
# says for the other processes (see DB_CONN_MAX_AGE in the settings).
os.environ["DB_CONN_MAX_AGE"] = "0"

try:
    from daphne import http_protocol
except ImportError:  # served by another ASGI server
    http_protocol = None

if http_protocol is not None:

    class WebRequestWithRawBody(http_protocol.WebRequest):
        """Twisted parses a POSTed form itself before daphne sees the request, for
        nothing (daphne hands Django the raw body), and answers a body its parser
        refuses (a multipart with no part: what clients send for an empty form)
        with a bare "400 Bad Request", no content type, no body. Unparsed, the
        body reaches Django, and the API answers its documented JSON error.
        """

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **{**kwargs, "parsePOSTFormSubmission": False})

    # daphne's HTTP factory takes the class by this name for each connection.
    http_protocol.WebRequest = WebRequestWithRawBody

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
