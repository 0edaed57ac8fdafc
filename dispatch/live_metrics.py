"""Websocket clients of the live feed, for /metrics (see ``citysafety.metrics``).

Counted where every daphne process already registers its sockets: each live
socket belongs to its person's group (``realtime.user_group``) in the Redis
channel layer, so the members of those groups are the sockets of the whole
platform, whichever daphne holds them. A daphne that dies without closing
its sockets leaves members that the layer expires after its group expiry
(a day by default); the figure errs high until then.
"""

from collections.abc import Iterable

import redis
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, Metric

from citysafety import realtime

# channels_redis's key for a group: "<prefix>:group:<name>", prefix "asgi".
_PATTERN = "asgi:group:" + realtime.user_group(0).removesuffix("0") + "*"


def collect() -> Iterable[Metric]:
    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    client = redis.Redis.from_url(hosts[0], socket_timeout=2, socket_connect_timeout=2)
    try:
        clients = sum(client.zcard(key) for key in client.scan_iter(match=_PATTERN, count=1000))
    except redis.RedisError:
        # Redis away: the gauge is missing from this scrape rather than 0.
        return
    finally:
        client.close()
    yield GaugeMetricFamily(
        "citysafety_websocket_clients", "Live websocket clients (the one map, queues).", value=clients
    )
