"""Who made a change during a request: the signed-in person, named in every audit event the request writes."""

from typing import Any

from pghistory.middleware import HistoryMiddleware


class AuditMiddleware(HistoryMiddleware):
    """pghistory's middleware, with the person's user name kept beside the id: it outlives the account."""

    def __call__(self, request):
        # A gateway's batch (token, no person) changes no tracked table; it is
        # spared the context that pghistory prefixes to every write statement.
        if not request.user.is_authenticated:
            return self.get_response(request)
        return super().__call__(request)

    def get_context(self, request) -> dict[str, Any]:
        context = super().get_context(request)
        user = getattr(request, "user", None)
        context["username"] = user.get_username() if user is not None and user.is_authenticated else None
        return context
