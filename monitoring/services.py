"""Every write of the monitoring app."""

import secrets

from django.db import transaction

from monitoring.models import Gateway


def gateway_issue_token(*, gateway: Gateway) -> str:
    """Give the gateway a new API token and return it; only its hash is kept.

    The old token stops working at once. The token is shown to a person once.
    """
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        Gateway.objects.filter(pk=gateway.pk).update(token_hash=Gateway.hash_token(token), token_prefix=token[:8])
    gateway.token_hash = Gateway.hash_token(token)
    gateway.token_prefix = token[:8]
    return token


def gateway_create(*, code: str, name: str) -> tuple[Gateway, str]:
    """Create a gateway and return it with its first token."""
    token = secrets.token_urlsafe(32)
    gateway = Gateway.objects.create(code=code, name=name, token_hash=Gateway.hash_token(token), token_prefix=token[:8])
    return gateway, token
