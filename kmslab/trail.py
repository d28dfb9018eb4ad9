"""A CloudTrail-like record of every call, successful or failed.

Events are kept as compact tuples on the hot path and rendered into CloudTrail's JSON shape
only when read. Request parameters arrive here already stripped of every blob member
(plaintext, ciphertext, key material) by the protocol layer, so no secret can be recorded.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: How many of the newest events a lab keeps in memory (and reloads from its state file): a
#: server under load records a thousand calls a second, and a learner reads the last few. Older
#: events stay in the state file.
MEMORY_WINDOW = 100_000


@dataclass(frozen=True, slots=True)
class Event:
    time: datetime
    source: str  # "kms.amazonaws.com"
    name: str  # the operation, e.g. "Encrypt"
    region: str
    user_identity: dict[str, Any]
    request_parameters: dict[str, Any] | None
    response_elements: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    request_id: str
    resources: tuple[str, ...] = ()
    read_only: bool = False
    event_type: str = "AwsApiCall"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": self.user_identity,
            "eventTime": self.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": self.source,
            "eventName": self.name,
            "awsRegion": self.region,
            "sourceIPAddress": "AWS Internal" if self.event_type != "AwsApiCall" else "127.0.0.1",
            "userAgent": "kmslab",
            "requestParameters": self.request_parameters,
            "responseElements": self.response_elements,
            "requestID": self.request_id,
            "eventID": self.request_id,
            "readOnly": self.read_only,
            "resources": [
                {"accountId": arn.split(":")[4], "type": "AWS::KMS::Key", "ARN": arn}
                for arn in self.resources
            ],
            "eventType": self.event_type,
            "managementEvent": True,
            "recipientAccountId": self.user_identity.get("accountId"),
            "eventCategory": "Management",
        }
        if self.error_code is not None:
            out["errorCode"] = self.error_code
            out["errorMessage"] = self.error_message
        return out


class Trail:
    """Append-only record of the newest ``window`` events; the store persists every one."""

    def __init__(self, window: int = MEMORY_WINDOW) -> None:
        self._events: deque[Event] = deque(maxlen=window)
        self._lock = threading.Lock()

    def append(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def extend(self, events: list[Event]) -> None:
        with self._lock:
            self._events.extend(events)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            snapshot = list(self._events)
        return [e.to_json() for e in snapshot]

    def __len__(self) -> int:
        return len(self._events)
