"""The plaintext limit of one Encrypt call per key type: a bar plot and its table twin.

``plot_plaintext_limits(ax, limits)`` draws one horizontal bar per key spec and algorithm (the
limits found by :func:`kmslab.limits.find_plaintext_limit`) and returns the artists;
``plaintext_limits_table(limits)`` holds the same numbers as rows for
:func:`kmslab.viz.tables.format_table`. Each bar is labelled with its number of bytes, so the
plot never relies on colour; symmetric and RSA keys also differ in hatch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .style import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

    from kmslab.limits import PlaintextLimit

__all__ = ["plaintext_limits_table", "plot_plaintext_limits"]


def plaintext_limits_table(limits: Iterable[PlaintextLimit]) -> list[dict[str, str]]:
    """Twin of :func:`plot_plaintext_limits`: one row per key spec and algorithm."""
    return [
        {
            "key spec": lim.key_spec,
            "algorithm": lim.algorithm,
            "limit found (bytes)": str(lim.limit),
            "expected": str(lim.expected),
            "agrees": "yes" if lim.limit == lim.expected else "NO",
            "Encrypt calls": str(lim.calls),
        }
        for lim in limits
    ]


def plot_plaintext_limits(ax: Axes, limits: Sequence[PlaintextLimit]) -> list[Artist]:
    """One horizontal bar per limit, labelled with its bytes; returns the artists drawn."""
    from matplotlib.patches import Patch

    artists: list[Artist] = []
    labels = [lim.label for lim in limits]
    values = [lim.limit for lim in limits]
    rsa = [lim.key_spec.startswith("RSA") for lim in limits]
    positions = list(range(len(limits)))[::-1]  # first row at the top
    bars = ax.barh(
        positions,
        values,
        color=[OKABE_ITO["vermillion"] if r else OKABE_ITO["blue"] for r in rsa],
        edgecolor=OKABE_ITO["black"],
        height=0.6,
    )
    for bar, r in zip(bars, rsa, strict=True):
        bar.set_hatch("//" if r else "")
        artists.append(bar)
    top = max(values, default=1)
    for y, value in zip(positions, values, strict=True):
        artists.append(ax.text(value + top * 0.01, y, f"{value:,} bytes", va="center", fontsize=9))
    ax.set_yticks(positions, labels)
    ax.set_xlim(0, top * 1.22)
    ax.set_xlabel("largest plaintext one Encrypt call accepts (bytes)")
    artists.append(ax.set_title("Plaintext limit of Encrypt per key type (found with real calls)"))
    legend = ax.legend(
        handles=[
            Patch(facecolor=OKABE_ITO["blue"], edgecolor="black", label="symmetric (AES-GCM)"),
            Patch(
                facecolor=OKABE_ITO["vermillion"],
                edgecolor="black",
                hatch="//",
                label="RSA (RSAES-OAEP), hatched",
            ),
        ],
        loc="lower right",
        fontsize=8,
    )
    artists.append(legend)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return artists
