"""Choices that say how they are shown: a colour, a short label, a symbol.

After netbox's ``utilities/choices.py`` with ``dcim/choices.py``: the choice
class is the one place that says what a value is called and what colour it
is shown in. The admin and the API read it there; the pages receive it in the
request's language through their JSON config (:func:`choices_json`), and the
JavaScript keeps no list of its own.
"""

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Colour:
    """A colour a choice is shown in.

    ``name`` is the word the API gives (a Level I warning is "red": 红色预警);
    ``hex`` is its shade on the pages' dark panels; ``text`` is readable on top
    of it, for badges filled with the colour.
    """

    name: str
    hex: str
    text: str = "#fff"


RED = Colour("red", "#ff3b3b")
ORANGE = Colour("orange", "#ff8c1a", text="#1d0f00")
YELLOW = Colour("yellow", "#ffd21a", text="#1d1700")
AMBER = Colour("amber", "#f5b83d")
TEAL = Colour("teal", "#22c3a6")
BLUE = Colour("blue", "#3ba3ff")
GREY = Colour("grey", "#8c9bb7")
STEEL = Colour("steel", "#7b8496")
SLATE = Colour("slate", "#4b5a78")


class ChoiceSet:
    """Mixin for a Django ``TextChoices``/``IntegerChoices``: per-value colour, short label, symbol.

    They are declared as non-members keyed by the member's name, so that the
    model field's ``choices`` (and with them the migrations) stay plain
    ``(value, label)`` pairs::

        class Level(ChoiceSet, models.IntegerChoices):
            I = 1, _("Level I (red)")
            colours = nonmember({"I": RED})
            short_labels = nonmember({"I": _("Level I")})

    ``display_order`` (member names) orders the pages' lists where the
    declaration order, which the migrations keep, reads badly.
    """

    colours: ClassVar[dict[str, Colour]] = {}
    short_labels: ClassVar[dict[str, Any]] = {}
    symbols: ClassVar[dict[str, str]] = {}
    display_order: ClassVar[tuple[str, ...]] = ()

    @property
    def colour(self) -> Colour | None:
        return type(self).colours.get(self.name)

    @property
    def short_label(self) -> str:
        return type(self).short_labels.get(self.name, self.label)

    @property
    def symbol(self) -> str:
        return type(self).symbols.get(self.name, "")

    @classmethod
    def displayed(cls) -> list:
        """The members in the order the pages list them."""
        if not cls.display_order:
            return list(cls)
        return [cls[name] for name in cls.display_order]


def choice_json(choice: ChoiceSet) -> dict[str, str]:
    """One value as a page gets it: its label in the active language, and what else it carries."""
    entry = {"label": str(choice.label)}
    if choice.short_label != choice.label:
        entry["short"] = str(choice.short_label)
    if choice.symbol:
        entry["symbol"] = choice.symbol
    if choice.colour:
        entry["colour"] = choice.colour.hex
        entry["textColour"] = choice.colour.text
    return entry


def choices_json(groups: dict[str, type[ChoiceSet]]) -> dict[str, dict[str, dict[str, str]]]:
    """The choice classes a page shows, for its JSON config, in the active language.

    ``{"level": {"1": {"label": "Level I (red)", "short": "Level I", "colour": "#ff3b3b", …}, …}, …}``:
    values in the order the page lists them (JavaScript keeps the order of
    string keys, and puts integer keys in ascending order, which is the
    levels' order).
    """
    return {
        group: {str(choice.value): choice_json(choice) for choice in choices.displayed()}
        for group, choices in groups.items()
    }
