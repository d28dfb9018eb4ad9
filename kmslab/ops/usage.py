"""GetKeyLastUsage: the last successful cryptographic use of a key.

Every cryptographic operation notes its key with :meth:`ServiceBase._used` once it has
succeeded (ReEncrypt notes both of its keys); when the call is recorded on the trail, the lab
stamps its request id, which is also the CloudTrail ``eventID`` of that call. A failed call never
counts. kmslab tracks a key from its creation, so ``TrackingStartDate`` is the creation date
("the date from which KMS began recording cryptographic activity for this key, or the date the
KMS key was created, whichever is later", GetKeyLastUsage API reference).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..keys import check_state
from .base import Call, ServiceBase


class UsageOperations(ServiceBase):
    def get_key_last_usage(self, call: Call, key_id: str) -> dict[str, Any]:
        """Key id or key ARN only (no aliases); not across accounts.

        Raises NotFoundException.
        """
        key = self._resolve(call, key_id, allow_alias=False)
        check_state("GetKeyLastUsage", key)
        usage: dict[str, Any] = {}
        if key.last_usage:
            usage["operation"] = key.last_usage["operation"]
            usage["timestamp"] = datetime.fromisoformat(key.last_usage["timestamp"])
            for name in ("cloud_trail_event_id", "kms_request_id"):
                if key.last_usage.get(name):
                    usage[name] = key.last_usage[name]
        return {
            "key_id": key.key_id,
            "key_last_usage": usage,
            "tracking_start_date": key.created,
            "key_creation_date": key.created,
        }
