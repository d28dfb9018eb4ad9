"""One visual vocabulary for every benchmark plot (no matplotlib import here).

Colours are the Okabe-Ito palette, which stays distinguishable with the common colour-vision
deficiencies; every series also has its own marker, so nothing relies on colour alone.
Measured points are filled on solid lines; extrapolated points are hollow on dashed lines.
"""

from __future__ import annotations

__all__ = [
    "BACKEND_STYLE",
    "COMPONENT_STYLE",
    "METHOD_STYLE",
    "OKABE_ITO",
    "RTT_MARKERS",
    "format_bytes",
    "format_seconds",
    "format_size",
]

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "grey": "#999999",
}

#: method -> (colour, marker, legend label)
METHOD_STYLE = {
    "direct": (OKABE_ITO["vermillion"], "o", "direct: one Encrypt per 4 KiB chunk"),
    "direct-threads": (OKABE_ITO["reddish purple"], "s", "direct, from a thread pool"),
    "envelope": (OKABE_ITO["blue"], "^", "envelope: 1 data key + local AES-GCM"),
}

#: backend -> (colour, marker, legend label)
BACKEND_STYLE = {
    "local": (OKABE_ITO["bluish green"], "o", "kmslab in-process"),
    "local-http": (OKABE_ITO["sky blue"], "s", "kmslab over HTTP (loopback)"),
    "moto": (OKABE_ITO["black"], "^", "moto in-process"),
    "moto-server": (OKABE_ITO["orange"], "D", "moto server (loopback)"),
}

RTT_MARKERS = ("o", "s", "^", "D", "v", "P")

#: breakdown component field -> (colour, hatch, label)
COMPONENT_STYLE = {
    "sdk_build_ms": (OKABE_ITO["sky blue"], "", "SDK: validate + serialise"),
    "sdk_sign_ms": (OKABE_ITO["blue"], "", "SDK: sign (SigV4)"),
    "simulated_rtt_ms": ("#DDDDDD", "//", "simulated round trip (sleep)"),
    "transport_ms": (OKABE_ITO["orange"], "", "transport"),
    "server_ms": (OKABE_ITO["bluish green"], "", "server"),
    "sdk_parse_ms": (OKABE_ITO["reddish purple"], "", "SDK: parse"),
    "sdk_other_ms": (OKABE_ITO["grey"], "", "SDK: other"),
}


def format_size(size: float) -> str:
    """4096 -> "4 KiB", 1048576 -> "1 MiB" (binary units, as the benchmark uses)."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size:.0f} B"


def format_bytes(size: float) -> str:
    """Like :func:`format_size` but for measured byte counts (one decimal when small)."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            value = size / factor
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{size:.0f} B"


def format_seconds(seconds: float) -> str:
    """0.0021 -> "2.1 ms", 3.5 -> "3.5 s", 420 -> "7.0 min"."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        value = seconds * 1000
        return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"
