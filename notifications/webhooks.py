"""Signing webhook requests, and checking a signature as a receiver should.

The receiver gets ``X-CitySafety-Timestamp`` (Unix seconds) and
``X-CitySafety-Signature: sha256=<hex>``, the HMAC-SHA256 with the
endpoint's secret of ``<timestamp>.<body>``. Signing the timestamp with the
body makes a replay detectable: the receiver refuses a timestamp older than
its tolerance, and a delivery id (``X-CitySafety-Delivery``) it has already
taken.
"""

import hashlib
import hmac

TIMESTAMP_HEADER = "X-CitySafety-Timestamp"
SIGNATURE_HEADER = "X-CitySafety-Signature"
DELIVERY_HEADER = "X-CitySafety-Delivery"
EVENT_HEADER = "X-CitySafety-Event"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_is_valid(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: a fresh timestamp and a matching signature (in constant time)."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body), signature or "")
