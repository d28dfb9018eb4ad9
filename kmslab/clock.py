"""Lab clocks: real time plus an offset you can move, or a fully manual clock.

Scheduled work (automatic rotation, key deletion) is due at an instant of the *lab* clock;
``advance`` moves the clock and tells the lab to run whatever fell due, so a 7-day deletion
window or a yearly rotation is a one-cell experiment. Request signatures, by contrast, are
always checked against real time (as AWS does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class Clock:
    """Real time shifted by an offset that :meth:`advance` grows."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> datetime:
        """Move the lab clock forward and run the work that falls due. Returns the new now."""
        step = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta(0):
            raise ValueError("the lab clock only moves forward")
        with self._lock:
            self._move(step)
        for listener in list(self._listeners):
            listener()
        return self.now()

    def _move(self, step: timedelta) -> None:
        self._offset += step

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every advance (the lab runs due work there)."""
        self._listeners.append(listener)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(now={self.now().isoformat(timespec='seconds')})"


class ManualClock(Clock):
    """A clock that stands still until advanced: for reproducible notebooks and tests."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__()
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start

    def now(self) -> datetime:
        return self._now

    @property
    def offset(self) -> timedelta:
        return self._now - datetime.now(UTC)

    def _move(self, step: timedelta) -> None:
        self._now += step
