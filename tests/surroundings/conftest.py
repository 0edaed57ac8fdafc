import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from tests.factories import DistrictFactory

# Two neighbouring districts of a small city: west of 117.2 and east of it.
WEST = ((117.0, 31.7), (117.2, 31.7), (117.2, 32.0), (117.0, 32.0), (117.0, 31.7))
EAST = ((117.2, 31.7), (117.4, 31.7), (117.4, 32.0), (117.2, 32.0), (117.2, 31.7))


@pytest.fixture
def city(db):
    return {
        "west": DistrictFactory(code="340104", name="Shushan", boundary=MultiPolygon(Polygon(WEST))),
        "east": DistrictFactory(code="340111", name="Baohe", boundary=MultiPolygon(Polygon(EAST))),
    }
