"""Who made a change during a request: the signed-in person, named in every audit event the request writes."""

from typing import Any

from pghistory.middleware import HistoryMiddleware


class AuditMiddleware(HistoryMiddleware):
    """pghistory's middleware, with the person's user name kept beside the id: it outlives the account."""

    def get_context(self, request) -> dict[str, Any]:
        context = super().get_context(request)
        user = getattr(request, "user", None)
        context["username"] = user.get_username() if user is not None and user.is_authenticated else None
        return context
