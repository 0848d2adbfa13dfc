"""Which features the unit runner reads, and which component each one specifies."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from shop import registry

#: `Given the <name> <kind>`, the step that names a feature's component (in its Background).
COMPONENT = re.compile(r"^\s*Given the (\S+) (aggregate|saga|process manager|projector)\s*$", re.MULTILINE)


def features_dir() -> Path:
    """examples/features (or `$ANGZARR_FEATURES_DIR`)."""
    configured = os.environ.get("ANGZARR_FEATURES_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "features"


def unit_features() -> list[Path]:
    """Every `*.feature` but the end-to-end ones (`e2e-*`)."""
    return sorted(p for p in features_dir().glob("*.feature") if not p.name.startswith("e2e-"))


@functools.cache
def unit_feature_components() -> dict[str, tuple[str, str]]:
    """The component (kind, name) each unit feature specifies, by the feature's path."""
    components = {}
    for path in unit_features():
        found = COMPONENT.search(path.read_text())
        if found is not None:
            kind, name = found[2], found[1]
            components[str(path)] = (kind, name.removeprefix("pm-") if kind == "process manager" else name)
    return components


def scenario_titles(path: Path) -> list[str]:
    """The scenario titles of a feature, in order."""
    return re.findall(r"^\s*Scenario: (.+?)\s*$", path.read_text(), re.MULTILINE)


def missing_components() -> set[tuple[str, str]]:
    """The components the unit features specify that shop.registry does not list."""
    return {(kind, name) for kind, name in unit_feature_components().values() if name not in registry.KINDS[kind]}
