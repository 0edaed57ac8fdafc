"""Webhooks refuse private, loopback, link-local and reserved addresses unless the setting allows a network."""

import ipaddress
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import translation

from notifications import outbound, services
from notifications.models import DeliveryStatus, WebhookEndpoint
from tests.live import free_port


def announce(department):
    (delivery,) = services.webhooks_announce(
        department_id=department.pk,
        level=2,
        event="work_order.dispatched",
        key="wo:1:dispatched",
        payload={"work_order": {"id": 1}},
    )
    return delivery


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.20.30.40", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("ff02::1", "multicast"),
        # IPv6 spellings of IPv4 addresses inside: mapped, 6to4, NAT64.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
    ],
)
def test_an_address_inside_is_refused_with_its_reason(address, reason):
    with translation.override("en"):
        assert outbound.refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["114.114.114.114", "8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_a_public_address_is_not_refused(address):
    assert outbound.refusal_reason(ipaddress.ip_address(address)) is None


@pytest.fixture
def loopback_receiver() -> Iterator[tuple[str, list[str]]]:
    """A receiver on 127.0.0.1 that takes every POST; yields its URL and the paths it was sent."""
    port = free_port()
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(self.path)
            self.send_response(204)
            self.end_headers()

        def do_GET(self):
            received.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def redirector(loopback_receiver) -> Iterator[str]:
    """A receiver on 127.0.0.2 that sends every request on to the loopback receiver at 127.0.0.1."""
    target, _received = loopback_receiver
    port = free_port()

    class Handler(BaseHTTPRequestHandler):
        def _redirect(self):
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET = _redirect  # noqa: N815 - http.server's hook names

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.2", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.2:{port}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
@pytest.mark.parametrize("network", [[], ["10.0.0.0/8"], ["127.0.0.2/32"]])
def test_a_loopback_receiver_is_refused_and_the_log_says_why(department_a, loopback_receiver, settings, network):
    settings.WEBHOOK_ALLOWED_NETWORKS = network
    url, received = loopback_receiver
    WebhookEndpoint.objects.create(department=department_a, url=url)
    delivery = announce(department_a)

    with translation.override("en"):
        wait = services.webhook_delivery_attempt(delivery_id=delivery.pk)

    assert received == []
    delivery.refresh_from_db()
    # Trying again would go to the same place: it fails at once.
    assert wait is None
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.FAILED, 1, None)
    assert delivery.error.startswith("AddressRefused: 127.0.0.1 resolves to 127.0.0.1, a loopback address")
    assert "WEBHOOK_ALLOWED_NETWORKS" in delivery.error


@pytest.mark.django_db
def test_a_name_that_resolves_to_loopback_is_refused(department_a, loopback_receiver, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    url, received = loopback_receiver
    WebhookEndpoint.objects.create(department=department_a, url=url.replace("127.0.0.1", "localhost"))
    delivery = announce(department_a)

    with translation.override("en"):
        services.webhook_delivery_attempt(delivery_id=delivery.pk)

    assert received == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "AddressRefused: localhost resolves to" in delivery.error
    assert "loopback" in delivery.error


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "address", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
        ("http://10.1.2.3:8080/hook", "10.1.2.3", "private"),
        ("http://[::ffff:127.0.0.1]:9/hook", "::ffff:7f00:1", "loopback"),
        ("http://[fe80::1]/hook", "fe80::1", "link-local"),
    ],
)
def test_private_and_link_local_targets_are_refused_before_connecting(department_a, settings, url, address, reason):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_TIMEOUT_SECONDS = 30  # a connection attempt to these would hang, not fail fast
    WebhookEndpoint.objects.create(department=department_a, url=url)
    delivery = announce(department_a)

    with translation.override("en"):
        assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert f"resolves to {address}, a {reason} address" in delivery.error


@pytest.mark.django_db
def test_the_allowed_network_lets_an_intranet_receiver_have_its_delivery(department_a, loopback_receiver, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    url, received = loopback_receiver
    WebhookEndpoint.objects.create(department=department_a, url=url)
    delivery = announce(department_a)

    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.error) == (DeliveryStatus.DELIVERED, 204, "")
    assert received == ["/hook"]


@pytest.mark.django_db
def test_a_redirect_to_loopback_is_not_followed(department_a, loopback_receiver, redirector, settings):
    # The first receiver is allowed; the address it redirects to is not.
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    _url, received = loopback_receiver
    WebhookEndpoint.objects.create(department=department_a, url=redirector)
    delivery = announce(department_a)

    with translation.override("en"):
        services.webhook_delivery_attempt(delivery_id=delivery.pk)

    assert received == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.response_code == 307
    assert delivery.error.startswith("Redirect to http://127.0.0.1:")
    assert "not followed" in delivery.error


def test_a_redirect_followed_by_the_checked_session_is_refused_at_the_connection(
    loopback_receiver, redirector, settings
):
    """Even a caller that follows redirects cannot reach an address inside: the check is on each connection."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    _url, received = loopback_receiver

    with outbound.session() as http, pytest.raises(outbound.AddressRefused) as refused:
        http.post(redirector, data=b"{}", timeout=5, allow_redirects=True)

    assert refused.value.address == "127.0.0.1"
    assert received == []


def test_the_address_checked_is_the_one_connected_to(loopback_receiver, settings, monkeypatch):
    """DNS rebinding: a name that looked public when saved and resolves inside at delivery is refused then."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    url, received = loopback_receiver
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    answers = iter(["8.8.8.8", "127.0.0.1"])
    real_getaddrinfo = outbound.socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "hooks.example.com":
            return real_getaddrinfo(next(answers), *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", rebinding)

    outbound.check_url(f"http://hooks.example.com:{port}/hook")  # public when the admin saved it
    with outbound.session() as http, pytest.raises(outbound.AddressRefused) as refused:
        http.post(f"http://hooks.example.com:{port}/hook", data=b"{}", timeout=5)

    assert refused.value.address == "127.0.0.1"
    assert received == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 resolves to 127.0.0.1, a loopback address"),
        ("http://localhost/hook", "localhost resolves to"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://192.168.10.5/hook", "a private address"),
        ("http://no-such-host.invalid/hook", "The host name no-such-host.invalid cannot be resolved."),
    ],
)
def test_the_admin_form_says_when_a_url_leads_inside(admin_client, department_a, settings, url, message):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    response = admin_client.post(
        "/admin/notifications/webhookendpoint/add/",
        {"department": department_a.pk, "url": url, "levels": "", "is_active": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors["url"])
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_the_admin_form_takes_a_public_address_and_an_allowed_intranet_one(admin_client, department_a, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["192.168.10.0/24"]
    for url in ("http://114.114.114.114/hook", "http://192.168.10.5/hook"):
        response = admin_client.post(
            "/admin/notifications/webhookendpoint/add/",
            {"department": department_a.pk, "url": url, "levels": "", "is_active": "on"},
        )
        assert response.status_code == 302, response.context["adminform"].form.errors

    assert sorted(WebhookEndpoint.objects.values_list("url", flat=True)) == [
        "http://114.114.114.114/hook",
        "http://192.168.10.5/hook",
    ]


def test_a_network_that_is_not_one_stops_the_process_with_its_name():
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "citysafety.settings",
            "WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/8,intranet",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "WEBHOOK_ALLOWED_NETWORKS: 'intranet' is not a network" in done.stderr
