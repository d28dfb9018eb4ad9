"""The key-state diagram of a KMS key, with the current state lit, and its text twin.

The states and transitions of a customer managed key made by KMS (origin ``AWS_KMS``)::

    CreateKey -> Enabled <-DisableKey/EnableKey-> Disabled
    Enabled, Disabled --ScheduleKeyDeletion--> PendingDeletion --CancelKeyDeletion--> Disabled
    PendingDeletion --the waiting period (7-30 days) ends--> deleted

Whether a state lets the key encrypt and decrypt is read from the service's one state table
(:data:`kmslab.keys.STATE_RULES`), so the picture cannot disagree with what the lab does.

``draw_key_states(ax, state)`` draws on a matplotlib Axes and returns the artists;
``key_states_text(state)`` is the same picture in words; ``key_states_png(state)`` renders the
drawing for a widget. The current state is marked by a thick outline *and* the word "current",
never by colour alone. matplotlib is imported only by the drawing functions.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kmslab.keys import STATE_RULES
from kmslab.model import KeyState

from .style import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

__all__ = [
    "DELETED",
    "STATES",
    "TRANSITIONS",
    "crypto_outcome",
    "draw_key_states",
    "key_states_png",
    "key_states_text",
]

#: Not a KeyState: the key is gone (DescribeKey answers NotFoundException).
DELETED = "Deleted"

#: The states drawn, with their place on a 12 x 6 canvas.
STATES: dict[str, tuple[float, float]] = {
    KeyState.ENABLED.value: (2.3, 4.5),
    KeyState.DISABLED.value: (8.7, 4.5),
    KeyState.PENDING_DELETION.value: (5.5, 1.4),
    DELETED: (10.6, 1.4),
}


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    label: str
    # Drawing: arrow from start to end, label centred at label_at, arc3 bend of the arrow.
    start: tuple[float, float] = (0, 0)
    end: tuple[float, float] = (0, 0)
    label_at: tuple[float, float] = (0, 0)
    bend: float = 0.0


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        KeyState.ENABLED, KeyState.DISABLED, "DisableKey", (3.95, 4.85), (7.05, 4.85), (5.5, 5.2)
    ),
    Transition(
        KeyState.DISABLED, KeyState.ENABLED, "EnableKey", (7.05, 4.15), (3.95, 4.15), (5.5, 3.8)
    ),
    Transition(
        KeyState.ENABLED,
        KeyState.PENDING_DELETION,
        "ScheduleKeyDeletion",
        (2.5, 3.75),
        (4.3, 2.15),
        (2.3, 2.75),
    ),
    Transition(
        KeyState.DISABLED,
        KeyState.PENDING_DELETION,
        "ScheduleKeyDeletion",
        (9.2, 3.75),
        (7.15, 1.75),
        (9.9, 2.75),
        -0.15,
    ),
    Transition(
        KeyState.PENDING_DELETION,
        KeyState.DISABLED,
        "CancelKeyDeletion",
        (6.2, 2.15),
        (7.7, 3.75),
        (5.9, 3.1),
        -0.15,
    ),
    Transition(
        KeyState.PENDING_DELETION,
        DELETED,
        "waiting period ends\n(7-30 days)",
        (7.15, 1.3),
        (8.95, 1.3),
        (8.05, 0.65),
    ),
)

_OTHER_STATES = (
    "Other states: PendingImport (imported material missing or expired), Unavailable "
    "(custom key store disconnected), PendingReplicaDeletion (multi-Region), Creating, Updating."
)

_BOX_W, _BOX_H = 3.1, 1.35


def crypto_outcome(state: str) -> str:
    """What Encrypt answers in ``state``: "allowed" or the AWS error code."""
    if state == DELETED:
        return "NotFoundException (the key is gone)"
    try:
        outcome = STATE_RULES["Encrypt"][KeyState(state)]
    except ValueError:
        return "unknown state"
    return "allowed" if outcome is None else outcome[0].__name__  # the class name is the code


def _label(state: str) -> str:
    if state == DELETED:
        return f"{DELETED}\ngone for good"
    outcome = crypto_outcome(state)
    usable = "Encrypt/Decrypt: yes" if outcome == "allowed" else "Encrypt/Decrypt: no"
    return f"{state}\n{usable}"


def draw_key_states(ax: Axes, current_state: str | None) -> list[Artist]:
    """Draw the key-state diagram on ``ax``, ``current_state`` lit; returns the artists drawn.

    ``current_state`` is a KeyState value ("Enabled", ...), ``"Deleted"``, or None.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    artists: list[Artist] = []
    ax.set_xlim(0, 12.4)
    ax.set_ylim(0, 6.2)
    ax.set_aspect("equal")
    ax.axis("off")

    for name, (x, y) in STATES.items():
        current = name == current_state
        usable = crypto_outcome(name) == "allowed"
        face = OKABE_ITO["yellow"] if current else "#FFFFFF"
        box = FancyBboxPatch(
            (x - _BOX_W / 2, y - _BOX_H / 2),
            _BOX_W,
            _BOX_H,
            boxstyle="round,pad=0.06,rounding_size=0.25",
            linewidth=3.2 if current else 1.2,
            edgecolor=OKABE_ITO["black"] if current else OKABE_ITO["grey"],
            facecolor=face,
            linestyle="-" if name != DELETED else "--",
            zorder=2,
        )
        ax.add_patch(box)
        artists.append(box)
        artists.append(
            ax.text(
                x,
                y + 0.12,
                _label(name),
                ha="center",
                va="center",
                fontsize=9.5,
                fontweight="bold" if current else "normal",
                color=OKABE_ITO["black"] if usable or current else "#444444",
                zorder=3,
            )
        )
        if current:
            artists.append(
                ax.text(
                    x,
                    y - _BOX_H / 2 + 0.18,
                    "▶ current ◀",
                    ha="center",
                    va="center",
                    fontsize=8.5,
                    fontweight="bold",
                    zorder=3,
                )
            )

    for t in TRANSITIONS:
        arrow = FancyArrowPatch(
            t.start,
            t.end,
            connectionstyle=f"arc3,rad={t.bend}",
            arrowstyle="-|>",
            mutation_scale=14,
            linewidth=1.3,
            color=OKABE_ITO["blue"],
            zorder=1,
        )
        ax.add_patch(arrow)
        artists.append(arrow)
        artists.append(
            ax.text(
                *t.label_at,
                t.label,
                ha="center",
                va="center",
                fontsize=8,
                color=OKABE_ITO["blue"],
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
                zorder=4,
            )
        )

    # CreateKey: an entry arrow into Enabled.
    ex, ey = STATES[KeyState.ENABLED]
    entry = FancyArrowPatch(
        (ex, ey + 1.55),
        (ex, ey + _BOX_H / 2 + 0.08),
        arrowstyle="-|>",
        mutation_scale=14,
        linewidth=1.3,
        color=OKABE_ITO["blue"],
    )
    ax.add_patch(entry)
    artists.append(entry)
    artists.append(ax.text(ex + 0.15, ey + 1.35, "CreateKey", fontsize=8, color=OKABE_ITO["blue"]))

    where = current_state if current_state in STATES else f"{current_state} (not drawn)"
    artists.append(ax.set_title(f"Key states of a KMS key (current: {where})", fontsize=11))
    artists.append(
        ax.text(0.1, 0.05, _OTHER_STATES, fontsize=7, color="#444444", wrap=True, va="bottom")
    )
    return artists


def key_states_text(current_state: str | None) -> str:
    """The diagram in words: each state (the current one marked), then each transition."""
    lines = [f"Key states (current: {current_state})"]
    width = max(len(s) for s in STATES)
    for name in STATES:
        mark = "->" if name == current_state else "  "
        note = "   <- current" if name == current_state else ""
        lines.append(f" {mark} {name:<{width}}  Encrypt: {crypto_outcome(name)}{note}")
    if current_state is not None and current_state not in STATES:
        lines.append(f" -> {current_state} (not drawn)  <- current")
    lines.append("Transitions")
    lines.append(f"    {'(new key)':<{width}}  --CreateKey--> {KeyState.ENABLED.value}")
    for t in TRANSITIONS:
        label = t.label.replace("\n", " ")
        lines.append(f"    {t.source:<{width}}  --{label}--> {t.target}")
    lines.append(_OTHER_STATES)
    return "\n".join(lines)


def key_states_png(current_state: str | None, *, dpi: int = 90) -> bytes:
    """The diagram as PNG bytes (for an ``ipywidgets.Image``); no pyplot, no global state."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.4, 4.4), layout="constrained")
    draw_key_states(figure.add_subplot(), current_state)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=dpi)
    return out.getvalue()
