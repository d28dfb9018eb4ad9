"""The time machine: advance the lab clock and watch one key rotate, age and disappear.

``TimeTravelModel`` reads a key through a real boto3 KMS client after each jump of the lab clock
(``course.clock``): its state, its key materials (numbered in the order they appeared, 1 being
the material the key was born with), how many rotations ListKeyRotations shows, the rotation
schedule, and what Decrypt says about a sample ciphertext made at the start::

    model = TimeTravelModel(kms, key_id, course.clock, ciphertext=blob)
    print(model.advance(365).line())
    # 2027-01-05  Enabled   material 2 of 2  rotations 1  rotation every 365 days, next ...

Dates are the lab's, in UTC. ``TimeTravelView`` puts a days box and an "Advance the clock"
button over it, with every snapshot so far as a text table (which also shows the start of each
current ``CurrentKeyMaterialId``; :meth:`Snapshot.line` leaves ids out, for nbval). moto has no
lab clock: the notebooks check ``course.lacks("clock")`` first.

The clock is shared: other code (a notebook's later cells) may move it between two presses.
The model reads the clock at each jump; when it moved elsewhere since the last snapshot, it
first records a row that says so ("other code +372 days"), so every row states exactly how far
the clock moved to reach it and who moved it ("Advance +30 days"), and the view's result line
reads "2028-01-12 + 30 days = 2028-02-11 ...": the learner sees the days they asked for, never a
larger jump.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ipywidgets as widgets
from botocore.exceptions import ClientError

from kmslab.viz.tables import format_table

from . import Panel, pre_html

__all__ = [
    "Snapshot",
    "TimeTravelModel",
    "TimeTravelView",
    "check_materials_answer",
    "expected_materials",
]

DELETED = "Deleted"


def _day(when: datetime) -> str:
    return when.astimezone(UTC).date().isoformat()


def _span(delta: timedelta) -> str:
    """``+30 days``, ``+1 day``, ``+0.5 days``: how far the clock moved."""
    days = delta.total_seconds() / 86400
    if days == int(days):
        return f"+{int(days)} day" + ("" if int(days) == 1 else "s")
    return f"+{days:.2f} days"


@dataclass(frozen=True)
class Snapshot:
    """What the key looks like at one instant of the lab clock."""

    date: str
    state: str
    materials: int  # key materials seen so far that the key still has (0 once deleted)
    current: int | None  # number of the current material (1 = the first), None once deleted
    rotations: int  # entries in ListKeyRotations (rotations only)
    rotation: str  # "every 365 days, next 2027-01-05" or "off"
    decrypt: str = ""  # what Decrypt of the sample ciphertext answered ("" without one)
    current_id: str = ""  # the current CurrentKeyMaterialId ("" once deleted)
    moved: str = ""  # how the clock got here: "start", "Advance +30 days", "other code +7 days"

    def line(self) -> str:
        """One plain line (what nbval checks)."""
        if self.current is None:
            material = "no key material"
        else:
            material = f"material {self.current} of {self.materials}"
        text = (
            f"{self.date}  {self.state:<15}  {material}  rotations {self.rotations}  "
            f"rotation {self.rotation}"
        )
        return f"{text}  decrypt: {self.decrypt}" if self.decrypt else text

    def row(self) -> dict[str, str]:
        """The table row: short enough that eight columns fit a notebook's width."""
        rotation = self.rotation.removeprefix("every ").replace(" days,", " d,")
        return {
            "lab date": self.date,
            "clock moved": self.moved or "-",
            "state": self.state,
            "material": "-" if self.current is None else f"{self.current} of {self.materials}",
            "material id": f"{self.current_id[:8]}..." if self.current_id else "-",
            "rotations": str(self.rotations),
            "rotation": rotation,
            "old ciphertext": self.decrypt or "-",
        }


def expected_materials(period_days: int, days: int) -> int:
    """Key materials after ``days`` with automatic rotation every ``period_days`` (the first
    material counts; a rotation falls due on each whole period)."""
    if period_days <= 0 or days < 0:
        raise ValueError("period_days must be positive and days not negative")
    return 1 + days // period_days


def check_materials_answer(answer: Any, period_days: int, days: int) -> str:
    """Exercise check: how many key materials does a key rotating every ``period_days`` have
    after ``days``? Returns "correct: ..." or "not yet: ..." with a hint."""
    expected = expected_materials(period_days, days)
    if answer == expected:
        return (
            f"correct: {days // period_days} automatic rotations in {days} days, plus the "
            f"material the key was born with: {expected} materials, all kept for decryption."
        )
    return (
        f"not yet: {answer!r} is not it. Hint: a rotation falls due every {period_days} days "
        "after rotation was enabled; count how many fit in the time, and remember the key "
        "keeps its first material too."
    )


class TimeTravelModel:
    """Advance ``clock`` and read one key through ``kms`` after each jump."""

    def __init__(
        self,
        kms: Any,
        key_id: str,
        clock: Any,
        *,
        ciphertext: bytes | None = None,
        encryption_context: Mapping[str, str] | None = None,
    ) -> None:
        self.kms = kms
        self.key_id = key_id
        self.clock = clock
        self.ciphertext = ciphertext
        self.encryption_context = dict(encryption_context or {})
        self.history: list[Snapshot] = []
        self._seen: list[str] = []  # material ids, oldest first
        self._at: datetime | None = None  # the clock when the last snapshot was recorded

    @property
    def last(self) -> Snapshot | None:
        return self.history[-1] if self.history else None

    def _number(self, material_id: str) -> int:
        if material_id not in self._seen:
            self._seen.append(material_id)
        return self._seen.index(material_id) + 1

    def _decrypt(self) -> str:
        if self.ciphertext is None:
            return ""
        params: dict[str, Any] = {"CiphertextBlob": self.ciphertext}
        if self.encryption_context:
            params["EncryptionContext"] = self.encryption_context
        try:
            out = self.kms.decrypt(**params)
        except ClientError as exc:
            return str(exc.response["Error"].get("Code", "error"))
        material = out.get("KeyMaterialId")
        return f"OK with material {self._number(material)}" if material else "OK"

    def _moved(self, now: datetime, by_advance: bool) -> str:
        if self._at is None:
            return "start"
        if now == self._at:
            return "no change"
        return ("Advance " if by_advance else "other code ") + _span(now - self._at)

    def snapshot(self, record: bool = True, *, _by_advance: bool = False) -> Snapshot:
        """Read the key now; ``record`` appends the snapshot to :attr:`history`. Its ``moved``
        says how far the clock went since the last recorded snapshot, and whether
        :meth:`advance` moved it or other code did."""
        now = self.clock.now()
        date = _day(now)
        moved = self._moved(now, _by_advance)
        try:
            meta = self.kms.describe_key(KeyId=self.key_id)["KeyMetadata"]
        except ClientError as exc:
            if exc.response["Error"].get("Code") != "NotFoundException":
                raise
            snap = Snapshot(date, DELETED, 0, None, 0, "-", self._decrypt(), moved=moved)
        else:
            listed = self.kms.list_key_rotations(
                KeyId=self.key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL"
            )["Rotations"]
            for row in listed:
                if row.get("KeyMaterialId"):
                    self._number(row["KeyMaterialId"])
            rotations = sum(1 for row in listed if row.get("RotationType"))
            current_id = meta.get("CurrentKeyMaterialId")
            current = self._number(current_id) if current_id else None
            status = self.kms.get_key_rotation_status(KeyId=self.key_id)
            if status.get("KeyRotationEnabled"):
                rotation = f"every {status.get('RotationPeriodInDays', 365)} days"
                if status.get("NextRotationDate"):
                    rotation += f", next {_day(status['NextRotationDate'])}"
            else:
                rotation = "off"
            snap = Snapshot(
                date,
                meta["KeyState"],
                max(len(listed), 1),
                current,
                rotations,
                rotation,
                self._decrypt(),
                current_id or "",
                moved,
            )
        if record:
            self.history.append(snap)
            self._at = now
        return snap

    def advance(self, days: int) -> Snapshot:
        """Move the lab clock ``days`` forward (due rotations and deletions run), then read.

        When other code moved the shared clock since the last snapshot, a snapshot of the key
        as it is now is recorded first (marked "other code"), so the returned one is exactly
        ``days`` after the row before it."""
        if days < 1:
            raise ValueError("advance the clock by at least one day")
        if self._at is not None and self.clock.now() != self._at:
            self.snapshot()
        self.clock.advance(days=days)
        return self.snapshot(_by_advance=True)

    def table(self) -> str:
        """Every snapshot so far as a text table."""
        return format_table([s.row() for s in self.history])


class TimeTravelView:
    """A days box and an "Advance the clock" button over a :class:`TimeTravelModel`."""

    def __init__(self, model: TimeTravelModel, days: int = 365) -> None:
        self.model = model
        self.days = widgets.BoundedIntText(
            value=days,
            min=1,
            max=3650,
            description="Days to advance",
            tooltip="How far to move the lab clock forward",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="200px"),
        )
        self.button = widgets.Button(
            description="Advance the clock",
            tooltip="Move the lab clock forward; rotations and deletions that fall due run",
            icon="forward",
            layout=widgets.Layout(width="auto"),
        )
        self.panel = Panel()
        self.table = widgets.HTML(value="")
        self.button.on_click(self.panel.guard(self._advance))
        if not model.history:
            model.snapshot()
        self._render()

    def _advance(self, _button: Any = None) -> None:
        days = self.days.value
        before = _day(self.model.clock.now())  # read at the press: other cells may move it
        snap = self.model.advance(days)
        self.panel.show(True, f"{before} + {_span(timedelta(days=days))[1:]} = {snap.line()}")
        self._render()

    def _render(self) -> None:
        self.table.value = pre_html(self.model.table(), size="11px")

    def widget(self) -> widgets.Widget:
        return widgets.VBox([widgets.HBox([self.days, self.button]), self.panel.html, self.table])
