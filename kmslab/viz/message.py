"""The byte map of an AWS Encryption SDK message: a horizontal bar and its table twin.

Both take the :class:`~kmslab.message.MessageMap` that :func:`kmslab.envelope.inspect` returns
(nothing is decrypted to make it)::

    mapped = envelope.inspect(message)
    plot_message_map(ax, mapped)                                   # the whole message, to scale
    plot_message_map(ax2, mapped, end=mapped.section("header auth")[1])   # the header, zoomed in
    print(format_table(message_map_table(mapped)))                 # the same parts as text

The message is cut into *parts*: header fields, the encryption context, each encrypted data key,
the header authentication tag, each frame, the final frame, and the footer of signed suites
(``level="fields"`` keeps every field of the format as its own part instead). Every part has its
own colour *and* hatch, and is labelled in the bar where the label fits; the table names them
all, with byte offsets and lengths. Neither shows a secret or a random value (message id, tags,
the commit key): only names, offsets and lengths.

matplotlib is imported only by :func:`plot_message_map`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .style import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

    from kmslab.message import MessageMap, Region

__all__ = ["KIND_STYLE", "Part", "message_map_table", "message_parts", "plot_message_map"]

Level = Literal["parts", "fields"]

#: kind -> (colour, hatch, legend label)
KIND_STYLE: dict[str, tuple[str, str, str]] = {
    "header": (OKABE_ITO["sky blue"], "", "header fields"),
    "context": (OKABE_ITO["yellow"], "..", "encryption context (in the clear)"),
    "data key": (OKABE_ITO["orange"], "//", "encrypted data key (KMS CiphertextBlob)"),
    "header auth": (OKABE_ITO["blue"], "xx", "header authentication tag"),
    "frame": (OKABE_ITO["bluish green"], "", "frame (encrypted data)"),
    "final frame": (OKABE_ITO["bluish green"], "\\\\", "final frame"),
    "frames not listed": (OKABE_ITO["grey"], "..", "frames not listed one by one"),
    "footer": (OKABE_ITO["reddish purple"], "--", "footer (signature)"),
}


@dataclass(frozen=True)
class Part:
    """A run of consecutive fields of one kind: ``[start, end)`` in the message."""

    name: str
    kind: str
    section: str  # "header", "header auth", "body" or "footer"
    start: int
    end: int
    fields: tuple[str, ...]
    holds: str

    @property
    def length(self) -> int:
        return self.end - self.start


def _kind(region: Region) -> str:
    if region.section == "header":
        if region.name.startswith("AAD"):
            return "context"
        return "data key" if region.name.startswith("EDK ") else "header"
    if region.section == "body":
        if region.name.startswith("Final frame"):
            return "final frame"
        return "frames not listed" if region.name.startswith("Frames ") else "frame"
    return region.section  # "header auth", "footer"


def _part_name(region: Region, kind: str) -> str:
    if kind == "header":
        return "header fields"
    if kind == "context":
        return "encryption context"
    if kind == "data key":
        return "encrypted data key " + region.name.split(":", 1)[0].removeprefix("EDK ")
    if kind == "header auth":
        return "header authentication"
    if kind == "frame":
        return "single block" if region.name.startswith("Single") else f"frame {region.frame}"
    if kind == "final frame":
        return "final frame"
    if kind == "frames not listed":
        return region.name.lower()
    return "footer (signature)"


def _field(region: Region) -> str:
    """A field's name without its part's prefix ("EDK 1: ", "Frame 3: ", ...)."""
    if region.section == "body" or region.name.startswith("EDK "):
        return region.name.split(": ", 1)[-1]
    return region.name


#: Fields whose bytes differ in every message (random, or derived from a random data key).
CHANGING = frozenset(
    {
        "Message ID",
        "Encrypted Data Key",
        "Algorithm Suite Data (commit key)",
        "Header IV",
        "Header Authentication Tag",
        "Authentication Tag",
        "Signature",
    }
)


def _field_value(region: Region) -> str:
    """A field's value as the table shows it: never the bytes of a changing field."""
    name = _field(region)
    if name in CHANGING:
        return f"changes with every message ({region.length} bytes)"
    if name == "Key Provider Information":
        return "the KMS key ARN"
    if name == "Encrypted Content":
        return f"encrypted data ({region.length:,} bytes)"
    if region.name.startswith("AAD pair"):
        return f"{region.value!r}" if not region.name.endswith("Length") else region.value
    return region.value or name


def _holds(kind: str, regions: Sequence[Region]) -> str:
    """What a part holds, in words and lengths (never a value that changes from run to run)."""
    lengths = {_field(r): r.length for r in regions}
    if kind == "context":
        pairs = sum(1 for r in regions if r.name.endswith(": Key"))
        return f"key-value pairs: {pairs}, readable by anyone"
    if kind == "data key":
        return (
            "provider aws-kms, the KMS key ARN, KMS's CiphertextBlob "
            f"({lengths.get('Encrypted Data Key', 0)} bytes)"
        )
    if kind == "frame":
        content = lengths.get("Encrypted Content", 0)
        return f"sequence number, IV, {content:,} bytes of encrypted data, tag"
    if kind == "final frame":
        content = lengths.get("Encrypted Content", 0)
        return f"end marker, sequence number, IV, length, {content:,} bytes of encrypted data, tag"
    if kind == "frames not listed":
        return f"{regions[0].value}, each like the frames around them"
    return ", ".join(_field(r) for r in regions)


def message_parts(mapped: MessageMap, level: Level = "parts") -> list[Part]:
    """The message cut into parts (``level="parts"``) or into its fields (``"fields"``)."""
    groups: list[tuple[str, str, list[Region]]] = []
    for region in mapped.regions:
        kind = _kind(region)
        name = _field(region) if level == "fields" else _part_name(region, kind)
        if level == "fields" and kind in ("data key", "frame", "final frame"):
            name = f"{_part_name(region, kind)}: {name}"
        if groups and level == "parts" and groups[-1][0] == name and groups[-1][1] == kind:
            groups[-1][2].append(region)
        else:
            groups.append((name, kind, [region]))
    return [
        Part(
            name=name,
            kind=kind,
            section=regions[0].section,
            start=regions[0].start,
            end=regions[-1].end,
            fields=tuple(_field(r) for r in regions),
            holds=_field_value(regions[0]) if level == "fields" else _holds(kind, regions),
        )
        for name, kind, regions in groups
    ]


def _window(mapped: MessageMap, start: int, end: int | None) -> tuple[int, int]:
    stop = mapped.length if end is None else min(end, mapped.length)
    if not 0 <= start < stop:
        raise ValueError(
            f"the window {start}..{end} is not inside the message (0..{mapped.length})"
        )
    return start, stop


def message_map_table(
    mapped: MessageMap, *, level: Level = "parts", start: int = 0, end: int | None = None
) -> list[dict[str, str]]:
    """Twin of :func:`plot_message_map`: one row per part in the window, with offsets."""
    low, high = _window(mapped, start, end)
    return [
        {
            "offset": f"{p.start:,}",
            "length": f"{p.length:,}",
            "section": p.section,
            "part": p.name,
            "holds": p.holds,
        }
        for p in message_parts(mapped, level)
        if p.end > low and p.start < high
    ]


def _title(mapped: MessageMap, low: int, high: int) -> str:
    body = mapped.section("body")
    head = mapped.section("header auth")[1]
    text = (
        f"Message of {mapped.length:,} bytes: header {head:,} | "
        f"body {body[1] - body[0]:,} ({mapped.frame_count} frame"
        f"{'s' * (mapped.frame_count != 1)})"
    )
    if "footer" in mapped.sections:
        footer = mapped.section("footer")
        text += f" | footer {footer[1] - footer[0]:,}"
    if (low, high) != (0, mapped.length):
        text += f"\nzoomed in on bytes {low:,} to {high:,}"
    return text


def plot_message_map(
    ax: Axes,
    mapped: MessageMap,
    *,
    level: Level = "parts",
    start: int = 0,
    end: int | None = None,
    title: str | None = None,
    legend: bool = True,
) -> list[Artist]:
    """One horizontal bar, to scale, cut into the message's parts between ``start`` and
    ``end`` (default: all of it); labels where they fit, byte offsets on the x axis.
    Returns the artists drawn. Twin: :func:`message_map_table`."""
    from matplotlib.patches import Patch

    low, high = _window(mapped, start, end)
    span = high - low
    parts = [p for p in message_parts(mapped, level) if p.end > low and p.start < high]
    drawn: list[Artist] = []
    # How many characters of 8-point text fit across the axes (about 4.6 points a character).
    box = ax.get_position()
    figure = ax.get_figure(root=True)
    width_points = (figure.get_figwidth() if figure is not None else 6.4) * box.width * 72
    chars_across = max(1.0, width_points / 4.6)
    frame_toggle = False
    for part in parts:
        left, right = max(part.start, low), min(part.end, high)
        colour, hatch, _label = KIND_STYLE[part.kind]
        if part.kind == "frame":  # neighbouring frames alternate, so each one shows
            hatch = ".." if frame_toggle else ""
            frame_toggle = not frame_toggle
        drawn += ax.barh(
            0,
            right - left,
            left=left,
            height=0.6,
            color=colour,
            hatch=hatch,
            edgecolor=OKABE_ITO["black"],
            linewidth=0.6,
        )
        room = (right - left) / span * chars_across
        if room >= len(part.name) + 1:
            drawn.append(
                ax.text(
                    (left + right) / 2,
                    0,
                    part.name,
                    ha="center",
                    va="center",
                    fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85},
                )
            )
    # Offsets of the part boundaries, skipping those too close to the previous tick.
    ticks = [low]
    for part in parts:
        edge = min(part.end, high)
        if edge - ticks[-1] >= span * 0.07 or edge == high:
            if edge == high and ticks and high - ticks[-1] < span * 0.07 and len(ticks) > 1:
                ticks.pop()
            ticks.append(edge)
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks], fontsize=8)
    ax.set_xlim(low, high)
    ax.set_ylim(-0.5, 0.5)
    ax.set_yticks([])
    ax.set_xlabel("byte offset in the message")
    drawn.append(ax.set_title(title or _title(mapped, low, high), fontsize=10))
    if legend:
        kinds = list(dict.fromkeys(p.kind for p in parts))
        handles = [
            Patch(
                facecolor=KIND_STYLE[k][0],
                hatch=KIND_STYLE[k][1],
                edgecolor="black",
                label=KIND_STYLE[k][2],
            )
            for k in kinds
        ]
        drawn.append(
            ax.legend(
                handles=handles,
                loc="center left",
                bbox_to_anchor=(1.01, 0.5),
                fontsize=8,
                frameon=False,
            )
        )
    return drawn
