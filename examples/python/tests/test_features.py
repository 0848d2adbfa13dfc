"""The shared unit features, run against the Python handlers in memory.

Every `examples/features/*.feature` but `e2e-*`; the steps are those of
examples/features/README.md (Aggregates, Sagas and process managers, Projectors). The
components come from `shop.registry`: a scenario whose component is not registered fails
(`--implemented-only` deselects it instead, and the summary lists what is missing).

    pytest examples/python/tests/test_features.py -k test_cart_6
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import pytest
from pytest_bdd import given, parsers, scenario, then, when

from feature_runner.features import scenario_titles, unit_feature_components, unit_features
from feature_runner.values import StepError
from feature_runner.world import UnitWorld


def bind(path: str, title: str) -> Callable[..., object]:
    """The test of one scenario, marked with the component its feature specifies."""

    def test() -> None:
        pass

    bound = scenario(path, title)(test)
    kind, name = unit_feature_components()[path]
    marked: Callable[..., object] = pytest.mark.component(kind, name)(bound)
    return marked


# One test per scenario: test_<feature>_<number>_<title>, e.g. test_cart_6_adding_more_...
for _path in unit_features():
    for _title in scenario_titles(_path):
        _name = re.sub(r"\W+", "_", f"test {_path.stem} {_title}".lower()).strip("_")
        globals()[_name] = bind(str(_path), _title)

#: A root: `$NAME`, `key(<domain>, <key>)` or a UUID.
ROOT = r"(?P<root>key\([^)]*\)|\S+)"
#: `under correlation <id>`, optional.
UNDER = r"(?: under correlation (?P<correlation>\S+))?"

Step = Callable[..., None]


@pytest.fixture
def world() -> UnitWorld:
    return UnitWorld()


def step(function: Step) -> Step:
    """Raises a step's error with the scenario's UUIDs written as in the feature again."""

    @functools.wraps(function)
    def run(world: UnitWorld, **arguments: object) -> None:
        __tracebackhide__ = True
        try:
            function(world, **arguments)
        except StepError as err:
            raise StepError(world.restore(str(err))) from None

    return run


def argument(inline: str, docstring: str | None) -> str:
    """The JSON of a step: inline after the message name, else its docstring, else `{}`."""
    return docstring if docstring is not None and not inline.strip() else inline


# Aggregates.


@given(parsers.re(r"the (?P<domain>\S+) aggregate"))
@step
def aggregate(world: UnitWorld, domain: str) -> None:
    world.given_aggregate(domain)


@given(parsers.re(r"(?P<name>[A-Z]\w*)\s*(?P<json>.*)"))
@step
def event(world: UnitWorld, name: str, json: str, docstring: str | None = None) -> None:
    world.given_event(name, argument(json, docstring))


@when(parsers.re(r"(?P<name>[A-Z]\w*)\s*(?P<json>.*)"))
@step
def command(world: UnitWorld, name: str, json: str, docstring: str | None = None) -> None:
    world.when_command(name, argument(json, docstring))


@then(parsers.re(r"the events are:?"))
@step
def events(world: UnitWorld, datatable: Sequence[Sequence[str]] | None = None) -> None:
    world.then_events(datatable)


@then(parsers.re(r'the command is rejected with (?P<code>\S+) "(?P<words>.*)"'))
@step
def rejected(world: UnitWorld, code: str, words: str) -> None:
    world.then_rejected(code, words)


@then(parsers.re(r"the state is\s*(?P<json>.*)"))
@step
def state(world: UnitWorld, json: str, docstring: str | None = None) -> None:
    world.then_state(argument(json, docstring))


# Sagas and process managers.


@given(parsers.re(r"the (?P<name>\S+) saga"))
@step
def saga(world: UnitWorld, name: str) -> None:
    world.given_saga(name)


@given(parsers.re(r"the (?P<name>\S+) process manager"))
@step
def process_manager(world: UnitWorld, name: str) -> None:
    world.given_process_manager(name)


RECEIVED = rf"(?P<name>[A-Z]\w*) from (?P<domain>\S+) {ROOT}{UNDER}\s*(?P<json>.*)"


@given(parsers.re(r"it received " + RECEIVED))
@step
def received(
    world: UnitWorld, name: str, domain: str, root: str, correlation: str | None, json: str, docstring: str | None = None
) -> None:
    world.receive(name, domain, root, correlation, argument(json, docstring), outcome=False)


@when(parsers.re(r"it receives " + RECEIVED))
@step
def receives(
    world: UnitWorld, name: str, domain: str, root: str, correlation: str | None, json: str, docstring: str | None = None
) -> None:
    world.receive(name, domain, root, correlation, argument(json, docstring), outcome=True)


@when(
    parsers.re(
        rf'its command (?P<name>[A-Z]\w*) to (?P<domain>\S+) {ROOT} is rejected with (?P<code>\S+) "(?P<words>.*)"'
    )
)
@step
def command_rejected(world: UnitWorld, name: str, domain: str, root: str, code: str, words: str) -> None:
    world.command_rejected(name, domain, root, code, words)


@then(parsers.re(r"it sends:?"))
@step
def sends(world: UnitWorld, datatable: Sequence[Sequence[str]] | None = None) -> None:
    world.then_sends(datatable)


@then(parsers.re(r"it sends nothing"))
@step
def sends_nothing(world: UnitWorld) -> None:
    world.then_sends_nothing()


@then(parsers.re(r"every command carries the correlation id (?P<id>\S+)"))
@step
def correlation(world: UnitWorld, id: str) -> None:
    world.then_correlation(id)


@then(parsers.re(r"it records:?"))
@step
def records(world: UnitWorld, datatable: Sequence[Sequence[str]] | None = None) -> None:
    world.then_records(datatable)


@then(parsers.re(r"it records nothing"))
@step
def records_nothing(world: UnitWorld) -> None:
    world.then_records_nothing()


@then(parsers.re(rf"its state{UNDER} is\s*(?P<json>.*)"))
@step
def process_state(world: UnitWorld, correlation: str | None, json: str, docstring: str | None = None) -> None:
    world.then_process_state(correlation, argument(json, docstring))


# Projectors.


@given(parsers.re(r"the (?P<name>\S+) projector"))
@step
def projector(world: UnitWorld, name: str) -> None:
    world.given_projector(name)


HANDLED = rf"(?P<name>[A-Z]\w*) from (?P<domain>\S+) {ROOT} at sequence (?P<sequence>\S+)\s*(?P<json>.*)"


@given(parsers.re(r"it handled " + HANDLED))
@when(parsers.re(r"it handles " + HANDLED))
@step
def handles(
    world: UnitWorld, name: str, domain: str, root: str, sequence: str, json: str, docstring: str | None = None
) -> None:
    world.project(name, domain, root, sequence, argument(json, docstring))


@when(parsers.re(r"it handles the same event again"))
@step
def handles_again(world: UnitWorld) -> None:
    world.project_again()


@then(parsers.re(rf"row (?P<key>key\([^)]*\)|\S+) is\s*(?P<json>.*)"))
@step
def row(world: UnitWorld, key: str, json: str, docstring: str | None = None) -> None:
    world.then_row(key, argument(json, docstring))


@then(parsers.re(r"the rows are:?"))
@step
def rows(world: UnitWorld, datatable: Sequence[Sequence[str]] | None = None) -> None:
    world.then_rows(datatable)


@then(parsers.re(r"there are no rows"))
@step
def no_rows(world: UnitWorld) -> None:
    world.then_no_rows()
