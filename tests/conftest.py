"""Persona fixtures and the real processes the integration tests talk to."""

import pytest
from django.core.management.base import CommandError
from django.test import TransactionTestCase

from monitoring.services import gateway_create
from organisation.roles import ADMINISTRATOR, DEPARTMENT_STAFF, DUTY_OFFICER
from tests.cities import GasCity, build_gas_city
from tests.factories import DepartmentFactory, UserFactory

pytest.register_assert_rewrite("tests.live")
from tests.live import use_a_template_database  # noqa: E402

# Its pytest_configure starts this process's Redis and points the broker and
# the channel layer at it, before any test module is imported.
pytest_plugins = ["tests.live"]


def _flush_retrying_a_deadlock(flush):
    """A transactional test's teardown truncates every table; the session's
    Celery worker may at that moment still evaluate a task an earlier test
    enqueued, holding row locks on the sensors. PostgreSQL then breaks the
    deadlock by failing the TRUNCATE. Trying again once the worker's
    transaction has ended is what a person would do."""

    def teardown(self) -> None:
        for attempt in range(5):
            try:
                return flush(self)
            except CommandError as exc:
                if attempt == 4 or "deadlock detected" not in str(exc.__cause__):
                    raise
        return None

    return teardown


TransactionTestCase._fixture_teardown = _flush_retrying_a_deadlock(TransactionTestCase._fixture_teardown)

# The longest modules (`--durations` shows them), started first under xdist:
# its default scheduling deals the first tests out one to each worker, so
# each of these starts at once on a worker of its own instead of holding one
# worker alone at the end of the run.
RUN_FIRST = (
    "tests/test_api_schema.py",
    "tests/monitoring/test_partition_migration.py",
    "tests/test_migrations.py",
    "tests/test_parallel_isolation.py",
    "tests/integration/test_mqtt.py",
    "tests/e2e/test_make_run.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return
    first = {module: rank for rank, module in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: first.get(item.nodeid.split("::")[0], len(first)))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_keepdb, django_db_blocker):
    """Under xdist, every worker's test database is a copy of one migrated template (tests/live.py)."""
    with django_db_blocker.unblock():
        use_a_template_database(keepdb=django_db_keepdb)


@pytest.fixture(autouse=True)
def _messages_in_english():
    """Services' messages are asserted in English; Chinese stays the default
    of every request (its language comes from the request, not from here)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


PASSWORD = "pass-word-123"


@pytest.fixture
def department_a(db):
    return DepartmentFactory(code="gas-company", name="Gas company")


@pytest.fixture
def department_b(db):
    return DepartmentFactory(code="water-company", name="Water company")


@pytest.fixture
def duty_officer(db):
    return UserFactory(username="duty", roles=[DUTY_OFFICER])


@pytest.fixture
def staff_a(department_a):
    return UserFactory(username="alice", roles=[DEPARTMENT_STAFF], department=department_a)


@pytest.fixture
def staff_b(department_b):
    return UserFactory(username="bob", roles=[DEPARTMENT_STAFF], department=department_b)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", roles=[ADMINISTRATOR], is_staff=True, is_superuser=True)


@pytest.fixture
def gateway(db):
    """A gateway and its plain token (``gateway.token``)."""
    gateway, token = gateway_create(code="gw-test", name="Test gateway")
    gateway.token = token
    return gateway


@pytest.fixture
def gas_city(db) -> GasCity:
    """Gas in the Yaohai district, Level III routed to the sensor's owner (tests/cities.py)."""
    return build_gas_city()
