"""The gateways' HTTP API under gunicorn, as `make run` and the compose file serve it.

Several worker processes take batches from many gateways at once, and each
keeps its database connection from one request to the next instead of
connecting anew: PostgreSQL's own view of its backends (pg_stat_activity)
is the witness.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import gateway_create
from tests.factories import SensorFactory

pytestmark = pytest.mark.django_db(transaction=True)

GATEWAYS = 8
SENSORS_PER_GATEWAY = 10
BATCHES_PER_ROUND = 3


@pytest.fixture
def gateways():
    """Eight gateways, each with its token and sensors of its own."""
    fleet = []
    for number in range(GATEWAYS):
        gateway, token = gateway_create(code=f"gw-{number}", name=f"Gateway {number}")
        codes = [SensorFactory(gateway=gateway).code for _ in range(SENSORS_PER_GATEWAY)]
        fleet.append((token, codes))
    return fleet


def post_rounds(server, gateways, *, round_number: int) -> list[requests.Response]:
    """Every gateway posts its batches from a thread of its own, all released at once."""
    start = threading.Barrier(len(gateways))
    base = timezone.now() - timedelta(hours=1)

    def post_batches(number: int) -> list[requests.Response]:
        token, codes = gateways[number]
        answers = []
        start.wait(timeout=30)
        for batch in range(BATCHES_PER_ROUND):
            observed_at = base + timedelta(seconds=round_number * 100 + batch)
            answers.append(
                requests.post(
                    f"{server.url}/api/v1/readings/",
                    json=[{"sensor": code, "observed_at": observed_at.isoformat(), "value": 1.5} for code in codes],
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
            )
        return answers

    with ThreadPoolExecutor(max_workers=len(gateways)) as pool:
        return [answer for answers in pool.map(post_batches, range(len(gateways))) for answer in answers]


def backends_of(server) -> set[tuple[int, object]]:
    """gunicorn's connections to the test database, as PostgreSQL lists them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [server.application_name],
        )
        return set(cursor.fetchall())


def test_gunicorn_stores_every_batch_that_many_gateways_post_at_once(gunicorn_server, gateways):
    answers = post_rounds(gunicorn_server, gateways, round_number=1)

    assert [answer.status_code for answer in answers] == [200] * GATEWAYS * BATCHES_PER_ROUND, [
        answer.text[:200] for answer in answers if answer.status_code != 200
    ]
    assert {answer.json()["accepted"] for answer in answers} == {SENSORS_PER_GATEWAY}
    assert Reading.objects.count() == GATEWAYS * BATCHES_PER_ROUND * SENSORS_PER_GATEWAY


def test_gunicorn_workers_keep_their_database_connections_between_requests(gunicorn_server, gateways):
    post_rounds(gunicorn_server, gateways, round_number=1)
    after_first = backends_of(gunicorn_server)

    answers = post_rounds(gunicorn_server, gateways, round_number=2)
    after_second = backends_of(gunicorn_server)

    assert {answer.status_code for answer in answers} == {200}
    # Connections closed at the end of each request would have left none;
    # several workers took the 24 concurrent batches, each on one connection.
    assert 2 <= len(after_first) <= gunicorn_server.workers
    # 24 more requests opened no connection and replaced none.
    assert after_first <= after_second
    assert len(after_first | after_second) <= gunicorn_server.workers
