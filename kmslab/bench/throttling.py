"""Request quotas: how direct encryption gets throttled, and what helps.

Against a kmslab lab with a simulated quota (:meth:`kmslab.lab.LocalKms.set_quota`, a token
bucket per account and Region; see :mod:`kmslab.quota`), five scenarios, each on a fresh bucket:

1. **direct, no retries**: one Encrypt per 4096-byte chunk, with botocore's retries off
   (``total_max_attempts=1``): the first ThrottlingException ends the job, unfinished.
2. **direct, standard retries**: botocore's ``standard`` retry mode (exponential backoff with
   jitter, up to ``max_attempts``): it finishes, slower, after many throttled attempts.
3. **direct, adaptive retries**: botocore's ``adaptive`` mode adds a client-side rate limiter
   that learns the quota from the throttles and slows the client down before it is refused.
4. **envelope, a data key per message**: ``messages`` small messages, one GenerateDataKey each:
   the envelope alone does not help when there are many small messages.
5. **envelope with a data-key cache**: one data key serves up to ``cache_messages`` messages
   (what the AWS Encryption SDK's caching CMM does): far fewer calls, no throttling.

The quota is scaled down (tens of requests per second instead of AWS's thousands) so that the
effect shows in seconds; the shape is the same at any scale.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .method import Cancelled, Envelope, direct_encrypt, envelope_codec
from .probe import ClientProbe
from .record import chunk_count

__all__ = ["CachingDataKeys", "ThrottleResult", "throttling_demo"]


@dataclass(frozen=True)
class ThrottleResult:
    """One scenario: did it finish, how long, how many requests and how many were throttled."""

    scenario: str
    finished: bool
    seconds: float
    api_calls_needed: int
    requests: int
    throttled: int
    note: str
    requests_per_second: float
    burst: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CachingDataKeys:
    """A KMS client wrapper that reuses one data key for up to ``max_messages`` messages.

    ``generate_data_key`` answers from the cache while the cached answer for the same request
    (key, length, encryption context) is younger than ``max_age_seconds`` and has served fewer
    than ``max_messages`` messages; everything else goes to the wrapped client. This is the
    trade the AWS Encryption SDK's data key caching makes: fewer KMS calls, in exchange for one
    data key protecting several messages (each message still derives its own AES key from the
    data key and its random message id).
    """

    def __init__(self, kms: Any, max_messages: int = 100, max_age_seconds: float = 60.0) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.kms = kms
        self.max_messages = max_messages
        self.max_age_seconds = max_age_seconds
        self.hits = 0
        self.misses = 0
        self._cache: dict[str, tuple[dict[str, Any], float, int]] = {}
        self._lock = threading.Lock()

    def generate_data_key(self, **kwargs: Any) -> dict[str, Any]:
        key = repr(sorted((k, repr(v)) for k, v in kwargs.items()))
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                response, born, uses = hit
                if uses < self.max_messages and now - born < self.max_age_seconds:
                    self._cache[key] = (response, born, uses + 1)
                    self.hits += 1
                    return copy.deepcopy(response)  # callers may pop the plaintext out
        response = self.kms.generate_data_key(**kwargs)
        with self._lock:
            self.misses += 1
            self._cache[key] = (copy.deepcopy(response), now, 1)
        return dict(response)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kms, name)


def throttling_demo(
    *,
    requests_per_second: float = 40.0,
    burst: float = 10.0,
    size: int = 128 * 1024,
    messages: int = 100,
    cache_messages: int = 50,
    max_attempts: int = 10,
    adaptive: bool = True,
    envelope: Envelope | None = None,
    seed: int | None = 7,
    cancel: threading.Event | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[ThrottleResult]:
    """Run the scenarios of the module docstring against a throttled kmslab lab (all five, or
    four without ``adaptive``, whose client-side limiter takes seconds to settle)."""
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from kmslab import backend as connector
    from kmslab.lab import LocalKms

    codec = envelope or envelope_codec()
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    message = b"one small record, the kind an application writes thousands of" * 16
    results: list[ThrottleResult] = []

    with LocalKms(seed=seed) as lab:
        setup = connector.connect("local", lab=lab)
        key = setup.create_key(Description="kmslab bench: throttling")["KeyMetadata"]["Arn"]

        def client(retries: dict[str, Any]) -> Any:
            # connect("local") takes no botocore Config; the lab's own client factory does.
            return lab.client(config=Config(retries=retries))

        def scenario(
            name: str, retries: dict[str, Any], needed: int, work: Callable[[Any], str]
        ) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if on_step is not None:
                on_step(name)
            kms = client(retries)
            probe = ClientProbe(kms)
            lab.set_quota(requests_per_second, burst=burst)  # a fresh, full bucket
            start = time.perf_counter()
            finished, note = True, ""
            try:
                note = work(kms)
            except ClientError as exc:
                finished = False
                err = exc.response.get("Error", {})
                note = f"stopped by {err.get('Code')}: {err.get('Message')}"
            except Exception as exc:  # envelope errors carry the AWS code in their text
                finished = False
                note = f"stopped: {exc}"
            seconds = time.perf_counter() - start
            counts = probe.counts()
            probe.detach()
            lab.set_quota(None)
            results.append(
                ThrottleResult(
                    name,
                    finished,
                    seconds,
                    needed,
                    counts.requests,
                    counts.throttled,
                    note,
                    requests_per_second,
                    burst,
                )
            )

        calls = chunk_count(len(data))
        no_retries = {"total_max_attempts": 1}
        standard = {"mode": "standard", "max_attempts": max_attempts}
        adaptive_retries = {"mode": "adaptive", "max_attempts": max_attempts}

        def direct(kms: Any) -> str:
            run = direct_encrypt(kms, key, data, cancel=cancel)
            return f"{run.done} Encrypt calls"

        def per_message(kms: Any) -> str:
            for _ in range(messages):
                codec.encrypt(kms, message, key)
            return f"{messages} messages"

        def cached(kms: Any) -> str:
            cache = CachingDataKeys(kms, max_messages=cache_messages)
            for _ in range(messages):
                codec.encrypt(cache, message, key)
            return f"{messages} messages, {cache.misses} data keys ({cache.hits} cache hits)"

        kib = f"{size // 1024} KiB"
        scenario(f"direct {kib}, no retries", no_retries, calls, direct)
        scenario(f"direct {kib}, standard retries", standard, calls, direct)
        if adaptive:
            scenario(f"direct {kib}, adaptive retries", adaptive_retries, calls, direct)
        scenario(f"envelope, {messages} messages, 1 data key each", standard, messages, per_message)
        needed = -(-messages // cache_messages)
        scenario(
            f"envelope, {messages} messages, data-key cache ({cache_messages}/key)",
            standard,
            needed,
            cached,
        )
        setup.close()
    return results
