"""What every page's layout needs to know about the person looking at it."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from organisation.roles import is_duty_officer
from organisation.selectors import department_of


def roles(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_duty_officer": False, "department": None}
    # Lazy: most pages never print the department, and the login and error
    # pages should not pay a query for it.
    return {
        "is_duty_officer": is_duty_officer(user),
        "department": SimpleLazyObject(lambda: department_of(user)),
    }
