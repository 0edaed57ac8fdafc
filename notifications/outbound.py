"""Requests to URLs that administrators configure, refused when they lead inside (server-side request forgery).

A webhook URL is typed into the admin; left unchecked, the platform would
POST wherever it points — the database, Redis, a cloud's metadata service at
169.254.169.254, an intranet admin page. So every address a request connects
to must be public, unless it falls within ``settings.WEBHOOK_ALLOWED_NETWORKS``
(an intranet system a department really uses).

The check is made on the address actually connected to, at connection time:
checking a name when the URL is saved and connecting later would let the name
resolve elsewhere by then (DNS rebinding). The host is resolved once, each
address checked, and the socket opened to that very address; the Host header
and TLS's server name still carry the name, so certificates verify as usual.
Proxies from the environment are ignored: a proxy would connect for us,
unchecked.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64's well-known prefix carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):  # noqa: N818 - a refusal, named as the delivery log shows it
    """The URL leads to an address the platform does not send to; the message says which and why."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        super().__init__(
            _(
                "%(host)s resolves to %(address)s, a %(reason)s address: requests to private, loopback, "
                "link-local and reserved addresses are refused (WEBHOOK_ALLOWED_NETWORKS can allow a network)."
            )
            % {"host": host, "address": address, "reason": reason}
        )


class HostUnresolved(Exception):  # noqa: N818 - named as the admin form shows it
    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(_("The host name %(host)s cannot be resolved.") % {"host": host})


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), which decides where it leads."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_reason(address: Address) -> str | None:
    """Why a request must not go to ``address`` (a word for the message), or None when it is public."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return refusal_reason(inner)
    # The specific words first; ``is_global`` catches the rest (shared 100.64/10, documentation ranges…).
    checks = (
        ("is_unspecified", _("unspecified")),
        ("is_loopback", _("loopback")),
        ("is_link_local", _("link-local")),
        ("is_multicast", _("multicast")),
        ("is_reserved", _("reserved")),
        ("is_private", _("private")),
    )
    for attribute, word in checks:
        if getattr(address, attribute):
            return word
    if not address.is_global:
        return _("non-public")
    return None


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(network, strict=False) for network in settings.WEBHOOK_ALLOWED_NETWORKS]


def check_address(host: str, address: Address) -> None:
    """Raise ``AddressRefused`` unless ``address`` is public or inside an allowed network."""
    networks = allowed_networks()
    candidates = [address]
    if (inner := _embedded_ipv4(address)) is not None:
        candidates.append(inner)
    if any(
        candidate in network for candidate in candidates for network in networks if candidate.version == network.version
    ):
        return
    reason = refusal_reason(address)
    if reason is not None:
        raise AddressRefused(host, str(address), reason)


def resolve(host: str, port: int) -> list[tuple[int, Address]]:
    """Every (family, address) the host name stands for, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostUnresolved(host) from exc
    found: list[tuple[int, Address]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 sockaddr may carry a zone ("fe80::1%eth0"); the address is before it.
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if (family, address) not in found:
            found.append((family, address))
    return found


def checked_addresses(host: str, port: int) -> list[Address]:
    """The host's addresses, each checked; refused as a whole when any one is refused.

    Refusing when any address leads inside (rather than skipping it) keeps a
    name that mixes a public and a private answer from working by chance.
    """
    addresses = [address for _family, address in resolve(host, port)]
    for address in addresses:
        check_address(host, address)
    return addresses


def check_url(url: str) -> None:
    """What the admin form asks when a URL is saved: does it lead somewhere the platform sends to?"""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    checked_addresses(host, port)


class _CheckedConnectionMixin:
    """Connect to an address checked at this moment, never to a second resolution of the name."""

    def _new_conn(self):
        host = self._dns_host.strip("[]")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            addresses = checked_addresses(host, self.port)
        else:
            check_address(host, literal)
            addresses = [literal]
        last_error: Exception | None = None
        for address in addresses:
            # urllib3 connects to ``_dns_host``; the Host header and SNI use ``host``.
            self._dns_host = str(address)
            try:
                return super()._new_conn()
            except OSError as exc:
                last_error = exc
        raise last_error  # type: ignore[misc] - resolve() returns at least one address or raises


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }


def session() -> requests.Session:
    """A requests session whose every connection is checked, a redirect's included."""
    checked = requests.Session()
    checked.trust_env = False
    adapter = CheckedAdapter(max_retries=0)
    checked.mount("http://", adapter)
    checked.mount("https://", adapter)
    return checked
