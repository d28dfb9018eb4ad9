"""Simulated KMS request quotas: a token bucket per account, Region and quota class.

AWS KMS limits how many requests per second an account may make in each Region; above the
quota it answers ``ThrottlingException`` (AWS Key Management Service Developer Guide, "Request
quotas" and "Throttling AWS KMS requests"), and the SDKs retry with backoff. The lab can
simulate this, off by default::

    lab.set_quota(requests_per_second=50, burst=10)   # every account and Region, each on its own
    lab.set_quota(None)                                # off again

The model, and where it simplifies:

* One bucket per (account, Region, quota class). The symmetric cryptographic operations share
  one class, as on AWS (:data:`SYMMETRIC_CRYPTOGRAPHIC`: Decrypt, Encrypt, GenerateDataKey,
  GenerateDataKeyWithoutPlaintext, GenerateMac, GenerateRandom, ReEncrypt, VerifyMac). Every
  other operation is its own class. AWS's separate quotas for RSA, ECC and other asymmetric keys
  are *not* modelled: here those operations count against the shared class too.
* A bucket holds at most ``burst`` tokens (AWS publishes no burst size; it is a knob of the
  lab) and gains ``requests_per_second`` tokens per second of the *lab clock*. Each request
  takes one token; a request that finds the bucket empty is throttled and takes none. Under a
  :class:`~kmslab.clock.ManualClock` the buckets refill only when the clock is advanced, which
  makes throttling reproducible in tests; under the default clock they refill in real time.
* The quotas AWS documents are far higher (thousands to 100,000 symmetric requests per second
  per Region), so the lab's defaults are scaled down to make throttling visible in seconds.

The error is the one KMS sends: ``ThrottlingException`` with the message "You have exceeded the
rate at which you may call KMS. Reduce the frequency of your calls." (the text of the Developer
Guide's "Throttling AWS KMS requests" page, also seen verbatim as the JSON ``message`` in
throttled responses from AWS).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .errors import ThrottlingException

__all__ = [
    "SYMMETRIC_CRYPTOGRAPHIC",
    "THROTTLING_MESSAGE",
    "RequestQuota",
    "TokenBucket",
    "quota_class",
]

THROTTLING_MESSAGE = (
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
)

SYMMETRIC_CRYPTOGRAPHIC = "Cryptographic operations (symmetric)"
"""The name of the shared quota class, as the Service Quotas console names it."""

_SHARED = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GenerateRandom",
        "ReEncrypt",
        "VerifyMac",
    }
)


def quota_class(operation: str) -> str:
    """The quota an operation counts against: the shared symmetric class, or its own name."""
    return SYMMETRIC_CRYPTOGRAPHIC if operation in _SHARED else operation


@dataclass
class TokenBucket:
    """``capacity`` tokens at most, ``rate`` tokens added per second, one token per request.

    Time is whatever the caller passes to :meth:`take` (seconds, any origin, never decreasing
    in effect: a clock that goes back adds nothing). The bucket starts full.
    """

    rate: float
    capacity: float
    tokens: float = field(default=-1.0)
    last: float | None = None

    def __post_init__(self) -> None:
        if not self.rate > 0 or not math.isfinite(self.rate):
            raise ValueError("rate must be a positive number of requests per second")
        if not self.capacity >= 1 or not math.isfinite(self.capacity):
            raise ValueError("capacity (burst) must be at least 1 request")
        if self.tokens < 0:
            self.tokens = self.capacity

    def refill(self, now: float) -> None:
        if self.last is not None and now > self.last:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        if self.last is None or now > self.last:
            self.last = now

    def take(self, now: float) -> bool:
        """Take one token at time ``now``; False (and nothing taken) when the bucket is empty."""
        self.refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds from ``now`` until a token will be there (0 when one is there already)."""
        self.refill(now)
        return max(0.0, (1 - self.tokens) / self.rate)


class RequestQuota:
    """The lab's simulated request quotas (see the module docstring).

    Args:
        requests_per_second: tokens per second for every quota class.
        burst: bucket size (default: one second's worth, at least 1).
        per_class: a different rate for some classes, e.g.
            ``{"Cryptographic operations (symmetric)": 20, "CreateKey": 1}``.
    """

    def __init__(
        self,
        requests_per_second: float,
        burst: float | None = None,
        per_class: Mapping[str, float] | None = None,
    ) -> None:
        self.requests_per_second = float(requests_per_second)
        self.burst = float(burst if burst is not None else max(1.0, requests_per_second))
        self.per_class = dict(per_class or {})
        TokenBucket(self.requests_per_second, self.burst)  # validate early
        for rate in self.per_class.values():
            TokenBucket(rate, self.burst)
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.allowed: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def bucket(self, account: str, region: str, operation: str) -> TokenBucket:
        """The bucket that ``operation`` by ``account`` in ``region`` draws from."""
        cls = quota_class(operation)
        key = (account, region, cls)
        found = self._buckets.get(key)
        if found is None:
            rate = self.per_class.get(cls, self.requests_per_second)
            found = self._buckets[key] = TokenBucket(rate, self.burst)
        return found

    def take(self, account: str, region: str, operation: str, now: datetime) -> None:
        """Admit one request, or raise ThrottlingException when its bucket is empty."""
        cls = quota_class(operation)
        if self.bucket(account, region, operation).take(now.timestamp()):
            self.allowed[cls] += 1
            return
        self.throttled[cls] += 1
        raise ThrottlingException(THROTTLING_MESSAGE)

    def __repr__(self) -> str:
        return (
            f"RequestQuota({self.requests_per_second:g}/s, burst {self.burst:g}, "
            f"{sum(self.throttled.values())} throttled)"
        )
