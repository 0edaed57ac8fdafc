"""The bell's unread count on every page of a signed-in person."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from notifications.selectors import unread_count


def unread(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications": 0}
    # Lazy: pages without the bell (the login and error pages) pay no query.
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user.pk))}
