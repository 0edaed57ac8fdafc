"""What the city has around a warning, by kind, and the risk grades: each with its label and colour.

The one place the map's layers, the admin and the import learn what a kind
is called and how it is drawn (``citysafety.choices``).
"""

from enum import nonmember

from django.db import models
from django.utils.translation import gettext_lazy as _

from citysafety.choices import BLUE, GREY, ORANGE, RED, SLATE, STEEL, TEAL, YELLOW, ChoiceSet, Colour

# Shades of their own, so that a protection target never reads as a warning level.
VIOLET = Colour("violet", "#b07cff")
PINK = Colour("pink", "#ff7ac8", text="#2a0619")
GREEN = Colour("green", "#4cd36b", text="#05210c")
CYAN = Colour("cyan", "#35d6f0", text="#032027")
WHITE = Colour("white", "#e8eef9", text="#0b1324")


class TargetKind(ChoiceSet, models.TextChoices):
    """Protection targets (防护目标): where people gather who must be warned or moved first."""

    SCHOOL = "school", _("School")
    HOSPITAL = "hospital", _("Hospital")
    NURSING_HOME = "nursing_home", _("Nursing home")
    SHELTER = "shelter", _("Emergency shelter")
    CROWDED_PLACE = "crowded_place", _("Crowded place")
    colours = nonmember(
        {"SCHOOL": VIOLET, "HOSPITAL": PINK, "NURSING_HOME": WHITE, "SHELTER": GREEN, "CROWDED_PLACE": CYAN}
    )
    symbols = nonmember(
        {"SCHOOL": "校", "HOSPITAL": "医", "NURSING_HOME": "养", "SHELTER": "避", "CROWDED_PLACE": "众"}
    )


class ResourceKind(ChoiceSet, models.TextChoices):
    """Emergency resources (应急资源): who and what can be sent."""

    RESCUE_TEAM = "rescue_team", _("Rescue team")
    SUPPLY_DEPOT = "supply_depot", _("Supply depot")
    EXPERT = "expert", _("Expert")
    EQUIPMENT = "equipment", _("Equipment")
    colours = nonmember({"RESCUE_TEAM": TEAL, "SUPPLY_DEPOT": STEEL, "EXPERT": GREY, "EQUIPMENT": SLATE})
    symbols = nonmember({"RESCUE_TEAM": "队", "SUPPLY_DEPOT": "储", "EXPERT": "专", "EQUIPMENT": "装"})


class RiskAreaKind(ChoiceSet, models.TextChoices):
    HAZARD_SOURCE = "hazard_source", _("Hazard source")
    RISK_ZONE = "risk_zone", _("Risk zone")


class RiskGrade(ChoiceSet, models.IntegerChoices):
    """The assessed risk of the four-colour risk map (风险四色图), 1 the highest.

    Chinese safety work grades risk red / orange / yellow / blue (重大 / 较大 /
    一般 / 低风险). This is an assessment of a place, made in advance, not a
    warning: the warning levels have three steps and no blue.
    """

    MAJOR = 1, _("Major risk (red)")
    LARGE = 2, _("Large risk (orange)")
    MODERATE = 3, _("Moderate risk (yellow)")
    LOW = 4, _("Low risk (blue)")
    colours = nonmember({"MAJOR": RED, "LARGE": ORANGE, "MODERATE": YELLOW, "LOW": BLUE})
    short_labels = nonmember(
        {"MAJOR": _("Major risk"), "LARGE": _("Large risk"), "MODERATE": _("Moderate risk"), "LOW": _("Low risk")}
    )


# The camera layer's one colour.
CAMERA_COLOUR = Colour("camera", "#9fb3d9", text="#0b1324")
