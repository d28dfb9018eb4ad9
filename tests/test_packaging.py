"""The files around the package agree with each other.

pyproject.toml is the source of truth for dependencies; environment.yml (conda and Binder) must
list the same packages with the same lower bounds. The README must show the two entry commands
and every notebook, and CI must run what `make test` runs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

# conda-forge names that differ from the PyPI name of the same project.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}
# environment.yml entries that are not requirements of the package.
ENV_ONLY = {"python", "pip"}
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
LOWER_BOUND = re.compile(r">=\s*([0-9][0-9A-Za-z.]*)")


def normalise(name: str) -> str:
    """PEP 503 normalisation: case-insensitive, runs of `-`, `_` and `.` are one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    """`moto[server]>=5.1` -> `moto`; `python=3.11` -> `python` (conda or pip syntax)."""
    match = NAME.match(spec)
    assert match, f"cannot read a package name from {spec!r}"
    return normalise(CONDA_TO_PYPI.get(match.group(1).lower(), match.group(1)))


def lower_bound(spec: str) -> str | None:
    match = LOWER_BOUND.search(spec)
    return match.group(1) if match else None


def is_this_package(spec: str) -> bool:
    """`-e .`, `.`, `-e .[lab]` and the like: the repository itself."""
    return re.fullmatch(r"(-e\s+)?\.(\[[^\]]*\])?", spec.strip()) is not None


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def environment() -> dict[str, Any]:
    with (ROOT / "environment.yml").open(encoding="utf-8") as f:
        loaded = yaml.safe_load(f)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def project_specs(pyproject: dict[str, Any]) -> dict[str, str]:
    """Name -> spec for the core dependencies plus the `lab` and `test` extras."""
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    specs = [*project["dependencies"], *extras["lab"], *extras["test"]]
    return {requirement_name(spec): spec for spec in specs}


@pytest.fixture(scope="module")
def conda_specs(environment: dict[str, Any]) -> list[str]:
    return [dep for dep in environment["dependencies"] if isinstance(dep, str)]


@pytest.fixture(scope="module")
def pip_specs(environment: dict[str, Any]) -> list[str]:
    sections = [dep["pip"] for dep in environment["dependencies"] if isinstance(dep, dict)]
    assert len(sections) <= 1, "environment.yml has more than one pip section"
    return list(sections[0]) if sections else []


@pytest.fixture(scope="module")
def env_specs(conda_specs: list[str], pip_specs: list[str]) -> dict[str, str]:
    """Name -> spec for every requirement environment.yml installs, conda and pip alike."""
    specs: dict[str, str] = {}
    for spec in [*conda_specs, *pip_specs]:
        if is_this_package(spec):
            continue
        name = requirement_name(spec)
        assert name not in specs, f"{name} is listed twice in environment.yml"
        specs[name] = spec
    return specs


def test_environment_installs_every_requirement(
    project_specs: dict[str, str], env_specs: dict[str, str]
) -> None:
    missing = sorted(set(project_specs) - set(env_specs))
    assert not missing, f"in pyproject.toml but not in environment.yml: {missing}"


def test_environment_adds_nothing_pyproject_lacks(
    project_specs: dict[str, str], env_specs: dict[str, str]
) -> None:
    extra = sorted(set(env_specs) - set(project_specs) - ENV_ONLY)
    assert not extra, f"in environment.yml but not in pyproject.toml: {extra}"


def test_lower_bounds_agree(project_specs: dict[str, str], env_specs: dict[str, str]) -> None:
    differ = {
        name: (spec, env_specs[name])
        for name, spec in project_specs.items()
        if name in env_specs and lower_bound(spec) != lower_bound(env_specs[name])
    }
    assert not differ, f"lower bounds differ (pyproject, environment.yml): {differ}"


def test_server_extra_of_moto_is_kept(env_specs: dict[str, str]) -> None:
    assert "[server]" in env_specs["moto"], "moto needs its [server] extra for 'moto-server'"


def test_environment_is_conda_forge_with_pinned_python(
    environment: dict[str, Any], conda_specs: list[str], pyproject: dict[str, Any]
) -> None:
    assert environment["name"] == "kmslab"
    assert environment["channels"] == ["conda-forge"]
    pins = [spec for spec in conda_specs if requirement_name(spec) == "python"]
    assert pins, "environment.yml must pin python (Binder ignores runtime.txt)"
    version = re.fullmatch(r"python\s*=+\s*(\d+)\.(\d+)", pins[0].strip())
    assert version, f"python pin {pins[0]!r} is not of the form python=X.Y"
    minimum = re.search(r">=\s*(\d+)\.(\d+)", pyproject["project"]["requires-python"])
    assert minimum
    pinned = (int(version[1]), int(version[2]))
    assert pinned >= (int(minimum[1]), int(minimum[2]))


def test_environment_installs_the_package_itself(pip_specs: list[str]) -> None:
    assert any(is_this_package(spec) for spec in pip_specs), (
        "environment.yml's pip section must install the repository (`-e .`) "
        "so that `import kmslab` works on Binder"
    )


def test_console_script_is_declared(pyproject: dict[str, Any]) -> None:
    assert pyproject["project"]["scripts"]["kmslab"] == "kmslab.cli:main"


def test_ci_runs_make_test() -> None:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line.split("#", 1)[0] for line in lines if not line.lstrip().startswith("#")]
    assert any(re.search(r"(^|\s)make\s+test\b", command) for command in commands)


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make lab" in readme
    assert "make test" in readme


def test_readme_lists_every_notebook() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    notebooks = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert "00_start_here.ipynb" in notebooks
    missing = [name for name in notebooks if name not in readme]
    assert not missing, f"notebooks not listed in README.md: {missing}"
