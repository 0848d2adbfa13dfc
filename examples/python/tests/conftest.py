"""pytest configuration of the shop's tests: the feature runner's option, failure reports and
summary."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest
from _pytest.terminal import TerminalReporter
from pytest_bdd.parser import Feature, Scenario, Step

from feature_runner.features import missing_components
from feature_runner.values import StepError

IMPLEMENTED_ONLY = "--implemented-only"
FAILED_STEP = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        IMPLEMENTED_ONLY,
        action="store_true",
        help="leave out the scenarios of components the shop does not implement in Python yet "
        "(by default they fail); the summary lists those components",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "component(kind, name): the component a scenario specifies")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption(IMPLEMENTED_ONLY):
        return
    missing = missing_components()
    kept, left_out = [], []
    for item in items:
        marker = item.get_closest_marker("component")
        if marker is not None and tuple(marker.args) in missing:
            left_out.append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Feature, scenario: Scenario, step: Step) -> None:
    request.node.stash[FAILED_STEP] = f"{Path(feature.filename).name}:{step.line_number}: {step.keyword} {step.name}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed step is reported as the step and why, without a traceback of the runner."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, StepError) and FAILED_STEP in item.stash:
        report.longrepr = f"{item.stash[FAILED_STEP]}\n{call.excinfo.value}"
    return report


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    missing = missing_components()
    if not missing:
        return
    what = "left out (--implemented-only)" if terminalreporter.config.getoption(IMPLEMENTED_ONLY) else "failing"
    terminalreporter.section("components not implemented in Python yet")
    terminalreporter.write_line(f"Their scenarios are {what}; register them in examples/python/shop/registry.py:")
    for kind, name in sorted(missing):
        terminalreporter.write_line(f"  {kind}: {name}")
