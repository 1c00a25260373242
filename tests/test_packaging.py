"""Every dependency is bounded on both sides: the upper bound is the line the suite ran against
(README, "Dependencies"), so a fresh install cannot pull a release nobody tested."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements() -> list[str]:
    project = PYPROJECT["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [*project["dependencies"], *extras, *PYPROJECT["build-system"]["requires"]]


def test_every_dependency_has_a_lower_and_an_upper_bound():
    unbounded = []
    for requirement in _requirements():
        spec = re.split(r"[<>=!~;]", requirement, maxsplit=1)[0]
        pinned = "==" in requirement
        if not pinned and not (">=" in requirement and "<" in requirement.replace("<=", "")):
            unbounded.append(requirement)
        assert spec.strip(), requirement
    assert not unbounded, unbounded
    assert len(_requirements()) > 15
