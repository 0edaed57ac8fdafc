"""factory_boy factories for the domain, shared by every test folder."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from dispatch.models import RoutingPolicy
from monitoring.models import Gateway, RiskCategory, RiskDomain, Sensor, SensorState, SensorType
from organisation.models import Department, DepartmentKind, District, Membership
from warning.models import Direction, ThresholdRule


class RiskDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RiskDomain
        django_get_or_create = ("code",)

    code = "gas"
    name = "Gas"
    category = RiskCategory.LIFELINE


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"3401{n:02d}")
    name = factory.Sequence(lambda n: f"District {n}")
    boundary = factory.LazyFunction(
        lambda: MultiPolygon(Polygon(((117.0, 31.7), (117.4, 31.7), (117.4, 32.0), (117.0, 32.0), (117.0, 31.7))))
    )


class SensorTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SensorType
        django_get_or_create = ("code",)

    code = "methane"
    name = "Methane detector"
    domain = factory.SubFactory(RiskDomainFactory)
    metric = "methane concentration"
    unit = "%LEL"


class GatewayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gateway

    code = factory.Sequence(lambda n: f"gw-{n}")
    name = factory.Sequence(lambda n: f"Gateway {n}")
    token_hash = factory.Sequence(lambda n: Gateway.hash_token(f"unused-{n}"))


class SensorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sensor

    code = factory.Sequence(lambda n: f"S{n:05d}")
    name = factory.Sequence(lambda n: f"Sensor {n}")
    sensor_type = factory.SubFactory(SensorTypeFactory)
    location = factory.LazyFunction(lambda: Point(117.23, 31.82, srid=4326))
    district = factory.SubFactory(DistrictFactory)

    @classmethod
    def _create(cls, model_class, *args, latest_value=None, latest_observed_at=None, **kwargs):
        """``latest_value`` / ``latest_observed_at``: the state ingestion would have left."""
        sensor = super()._create(model_class, *args, **kwargs)
        if latest_value is not None or latest_observed_at is not None:
            SensorState.objects.create(sensor=sensor, latest_value=latest_value, latest_observed_at=latest_observed_at)
        return sensor


class ThresholdRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ThresholdRule

    name = "Methane upper limit"
    sensor_type = factory.SubFactory(SensorTypeFactory)
    direction = Direction.ABOVE
    level3_threshold = 10.0
    level2_threshold = 20.0
    level1_threshold = 50.0
    dead_band = 1.0


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept-{n}")
    name = factory.Sequence(lambda n: f"Department {n}")
    kind = DepartmentKind.ENTERPRISE


class RoutingPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingPolicy
        skip_postgeneration_save = True

    domain = factory.SubFactory(RiskDomainFactory)
    level = 3
    ack_deadline_minutes = 15

    @factory.post_generation
    def departments(self, create, extracted, **kwargs):
        if create and extracted:
            self.departments.set(extracted)
            self.save()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass-word-123")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for name in extracted:
                self.groups.add(Group.objects.get_or_create(name=name)[0])

    @factory.post_generation
    def department(self, create, extracted, **kwargs):
        if create and extracted:
            Membership.objects.update_or_create(user=self, defaults={"department": extracted})
