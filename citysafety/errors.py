"""The domain's errors: what an operation refuses, and why, said for a person.

Services raise them and know nothing of who asked. Each edge answers in its
own terms: the REST API with a status code (``citysafety.api``), the pages
with their 404 or 403 page or a message (``citysafety.middleware``), the MQTT
bridge with its reply (``monitoring.mqtt``). This module is the lowest layer,
so every app may raise them; it imports nothing of HTTP.
"""


class DomainError(Exception):
    """An operation the domain refuses; ``str()`` is the message for a person."""


class NotFoundError(DomainError):
    """The object does not exist, or is not the asker's to know of."""


class NotAllowedError(DomainError):
    """The asker may not do this, whatever the state."""


class ConflictError(DomainError):
    """The object's current state does not allow the operation (an illegal transition)."""


class InvalidInputError(DomainError):
    """The input is wrong; ``field`` names the input at fault when it is one field."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class TooLargeError(InvalidInputError):
    """The input is more than the platform takes at once."""


class OverloadedError(DomainError):
    """The platform cannot take this now; the asker should try again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
