"""The notebooks' starting point: one call that gives a lesson its lab, client and backend.

Every notebook begins with::

    course = kmslab.course.start(seed=7)
    kms = course.kms

which makes a seeded lab on a manual clock (so re-running a notebook gives the same teaching
facts), or, when the environment says ``KMSLAB_BACKEND=moto``, a moto-mocked KMS instead, so
the same cells show where moto departs from AWS. ``course.supports(feature)`` tells a cell
whether the backend can show a behaviour; ``course.lacks(feature)`` prints a plain sentence
instead of letting a cell fail where moto does not model it — the contrast is itself a lesson.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .clock import ManualClock
from .lab import LocalKms

BACKEND_ENV = "KMSLAB_BACKEND"
COURSE_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

#: What moto 5 does not model (teaching.md §2.2, checked against moto 5.2.5).
MOTO_LACKS: dict[str, str] = {
    "key_states": "disabled and pending-deletion keys still encrypt",
    "key_policies": "key policies are stored but not enforced",
    "iam_principals": "calls are not made as separate IAM principals",
    "rotation": "rotation does not create new key material",
    "clock": "there is no lab clock to move time forward",
    "trail": "there is no trail of calls",
    "import": "key material import is not implemented",
    "custom_key_stores": "custom key stores are not implemented",
    "multi_region_decrypt": "a replica cannot decrypt the primary's ciphertext",
    "grants": "grants are stored but not enforced",
    "deletion_window": "the 7-30 day deletion window is not enforced",
    "aws_managed_keys": "alias/aws/* keys are ordinary customer keys that anyone may use directly",
    "rsa_limits": "RSA Encrypt is not real RSA-OAEP and has no plaintext limit",
    "digest_signing": "Sign ignores MessageType DIGEST (it hashes the digest again) and checks "
    "no digest length",
    "rsa_pss": "RSASSA-PSS signs with the longest salt, not the digest-length salt AWS uses, so "
    "its signatures do not verify outside AWS",
    "rsa_oaep_decrypt": "an RSA key cannot decrypt RSA-OAEP ciphertext made with its public key",
    "mac_algorithm_check": "GenerateMac accepts any MAC algorithm with any HMAC key spec",
    "request_quotas": "there are no request quotas: KMS calls are never throttled",
}


@dataclass
class Course:
    """What a lesson works with. ``lab`` is None on the moto backend."""

    backend: str
    kms: Any
    lab: LocalKms | None
    region: str = "us-east-1"
    _clients: list[Any] = field(default_factory=list, repr=False)

    @property
    def clock(self) -> ManualClock:
        if self.lab is None or not isinstance(self.lab.clock, ManualClock):
            raise RuntimeError(self._moto_sentence("clock"))
        return self.lab.clock

    def supports(self, feature: str) -> bool:
        return self.backend == "local" or feature not in MOTO_LACKS

    def lacks(self, feature: str) -> bool:
        """True (after printing why) when this backend cannot show ``feature``."""
        if self.supports(feature):
            return False
        print(self._moto_sentence(feature))
        return True

    def _moto_sentence(self, feature: str) -> str:
        return (
            f"On the {self.backend} backend {MOTO_LACKS.get(feature, feature)}; "
            "run this notebook on kmslab to see what AWS does."
        )

    def client(
        self, service: str = "kms", *, principal: str | None = None, region: str | None = None
    ) -> Any:
        """Another client of the same backend: another principal, another Region."""
        region = region or self.region
        if self.lab is not None:
            return self.lab.client(service, region_name=region, principal=principal)
        import boto3

        from .backend import MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY

        return boto3.client(
            service,
            region_name=region,
            aws_access_key_id=MOTO_ACCESS_KEY_ID,
            aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
        )

    def close(self) -> None:
        from .backend import stop

        stop(self.kms)
        if self.lab is not None:
            self.lab.close()


def start(
    seed: int = 7,
    *,
    backend: str | None = None,
    region: str = "us-east-1",
    now: datetime = COURSE_START,
) -> Course:
    """A lesson's lab: seeded, on a manual clock at ``now``; or moto when the environment (or
    ``backend``) says so."""
    from .backend import connect

    chosen = backend or os.environ.get(BACKEND_ENV, "local")
    if chosen == "local":
        lab = LocalKms(clock=ManualClock(now), seed=seed)
        return Course("local", connect("local", lab=lab, region_name=region), lab, region)
    if chosen in ("moto", "moto-server"):
        return Course(chosen, connect(chosen, region_name=region), None, region)
    raise ValueError(f"{BACKEND_ENV} must be 'local', 'moto' or 'moto-server', not {chosen!r}")
