"""The character-class rule of the password policy (等保 2.0 asks for complexity)."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext


def character_classes(password: str) -> set[str]:
    """Letters (any script: 中文 counts), digits, and every other sign."""
    classes = set()
    for char in password:
        if char.isalpha():
            classes.add("letter")
        elif char.isdigit():
            classes.add("digit")
        elif not char.isspace():
            classes.add("sign")
    return classes


class CharacterClassValidator:
    """At least ``min_classes`` of letters, digits and other signs."""

    def __init__(self, min_classes: int = 2) -> None:
        if not 1 <= min_classes <= 3:
            raise ValueError("min_classes must lie between 1 and 3 (letters, digits, other signs).")
        self.min_classes = min_classes

    def validate(self, password: str, user: AbstractBaseUser | None = None) -> None:
        if len(character_classes(password)) < self.min_classes:
            raise ValidationError(self._message(), code="password_too_plain")

    def get_help_text(self) -> str:
        return self._message()

    def _message(self) -> str:
        return ngettext(
            "Your password must contain at least %(count)d of these kinds of character: "
            "letters, digits, other signs such as - or #.",
            "Your password must contain at least %(count)d of these kinds of character: "
            "letters, digits, other signs such as - or #.",
            self.min_classes,
        ) % {"count": self.min_classes}
