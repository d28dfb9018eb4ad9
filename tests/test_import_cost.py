"""`import kmslab` stays light: no moto, matplotlib or ipywidgets (DESIGN.md, dependency rules)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("moto", "matplotlib", "ipywidgets")

PROBE = """
import json, sys
import kmslab
kmslab.LocalKms(seed=1).client().generate_random(NumberOfBytes=1)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_import_kmslab_pulls_in_no_heavy_package() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    loaded = set(json.loads(run.stdout))
    assert "kmslab" in loaded and "boto3" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded.intersection(HEAVY))
