"""EventRouter (sagas) and ProcessManagerRouter with toy messages: Timestamp events from a
"clock" domain, Duration commands to a "timer" domain."""

import uuid
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from angzarr import (
    Command,
    Effects,
    EventContext,
    EventRouter,
    ProcessManagerRouter,
    Rejected,
    StatusError,
    cover,
    from_proto_uuid,
    key_root,
    pack,
)
from angzarr import distribution_pb2 as dist
from angzarr import types_pb2 as types

ROOT = uuid.UUID(int=5)
OTHER = uuid.UUID(int=9)

saga = EventRouter("saga-clock", source="clock").sends("timer", Duration)


@saga.on
def tick(ctx: EventContext, event: Timestamp) -> Iterator[Command]:
    if event.seconds:
        yield Command("timer", ctx.root, Duration(seconds=event.seconds))
        yield Command("timer", OTHER, Duration(seconds=event.seconds))


@saga.on_rejection
def compensate(rejected: Rejected) -> list[Command]:
    command = rejected.command_as(Duration)
    if command is None or rejected.source is None:
        return []
    return [Command("timer", rejected.source[0].root, Duration(seconds=-command.seconds))]


def book(domain: str, correlation: str, event: Timestamp, root: uuid.UUID = ROOT) -> types.EventBook:
    return types.EventBook(
        cover=cover(domain, root, correlation),
        pages=[types.EventPage(num=3, position=40, event=pack(event))],
    )


def sent(commands: list[types.CommandBook]) -> list[tuple[str, uuid.UUID | None, str, int]]:
    out = []
    for command in commands:
        duration = Duration()
        command.pages[0].command.Unpack(duration)
        out.append((command.cover.domain, from_proto_uuid(command.cover.root), command.cover.correlation_id, duration.seconds))
    return out


def test_a_saga_maps_events_to_correlated_commands_in_order() -> None:
    response = saga.handle(book("clock", "c-7", Timestamp(seconds=12)))
    assert sent(list(response.commands)) == [("timer", ROOT, "c-7", 12), ("timer", OTHER, "c-7", 12)]
    assert not saga.handle(book("clock", "c-7", Timestamp(seconds=0))).commands
    other = types.EventBook(cover=cover("clock", ROOT), pages=[types.EventPage(event=pack(Duration()))])
    assert not saga.handle(other).commands


def test_a_saga_describes_inputs_and_outputs() -> None:
    descriptor = saga.descriptor()
    assert descriptor.component_type == "saga"
    assert [(t.domain, list(t.types)) for t in descriptor.inputs] == [("clock", ["Timestamp"])]
    assert [(t.domain, list(t.types)) for t in descriptor.outputs] == [("timer", ["Duration"])]


def test_a_saga_compensates_from_the_source_event() -> None:
    source = book("clock", "c-7", Timestamp(seconds=12))
    command = saga.handle(source).commands[1]
    rejection = dist.CommandRejection(
        command=command, code=grpc.StatusCode.FAILED_PRECONDITION.value[0], message="no", source_event=source
    )
    assert sent(list(saga.handle_rejection(rejection).commands)) == [("timer", ROOT, "c-7", -12)]
    rejection.ClearField("source_event")
    assert not saga.handle_rejection(rejection).commands
    with pytest.raises(StatusError) as raised:
        saga.handle_rejection(dist.CommandRejection(command=types.CommandBook()))
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_sending_an_undeclared_command_is_refused_with_the_fix() -> None:
    loose = EventRouter("saga-loose", source="clock")
    loose.on(lambda ctx, event: [Command("timer", ctx.root, Duration())], Timestamp)
    with pytest.raises(StatusError, match=r'saga-loose sends Duration to timer without declaring it; add .sends\("timer", Duration\)'):
        loose.handle(book("clock", "c", Timestamp(seconds=1)))


# A process manager counting triggers (its state and events are Durations); at two it sends a
# Timestamp to "c".
pm = ProcessManagerRouter("pm-join", Duration).sends("c", Timestamp)


@pm.on("a")
@pm.on("b")
def count(state: Duration, ctx: EventContext, event: Timestamp) -> Effects:
    yield Duration(seconds=state.seconds + 1)
    if state.seconds + 1 == 2:
        yield Command("c", ctx.root, Timestamp())


@pm.apply
def counted(state: Duration, event: Duration) -> None:
    state.seconds = event.seconds


def trigger(history: list[Duration], domain: str, correlation: str) -> dist.ProcessManagerResponse:
    own = types.EventBook(
        cover=cover("pm-join", key_root("pm-join", correlation), correlation),
        pages=[types.EventPage(event=pack(e)) for e in history],
    )
    return pm.handle(dist.ProcessManagerRequest(state=own, trigger=book(domain, correlation, Timestamp(), OTHER)))


def test_a_process_manager_records_from_its_state_and_sends_when_joined() -> None:
    first = trigger([], "a", "c-1")
    assert len(first.events.pages) == 1 and not first.commands
    second = trigger([Duration(seconds=1)], "b", "c-1")
    assert [p.event.type_url.rsplit("/")[-1] for p in second.events.pages] == ["google.protobuf.Duration"]
    assert [(c.cover.domain, c.cover.correlation_id, from_proto_uuid(c.cover.root)) for c in second.commands] == [
        ("c", "c-1", OTHER)
    ]
    assert second.events.cover.domain == "pm-join"


def test_a_process_manager_ignores_triggers_without_correlation_or_handler() -> None:
    for domain, correlation in [("a", ""), ("z", "c-1")]:
        response = trigger([], domain, correlation)
        assert not response.events.pages and not response.commands


def test_a_process_manager_describes_inputs_per_domain() -> None:
    descriptor = pm.descriptor()
    assert descriptor.component_type == "process_manager"
    assert [(t.domain, list(t.types)) for t in descriptor.inputs] == [("b", ["Timestamp"]), ("a", ["Timestamp"])]
    assert [(t.domain, list(t.types)) for t in descriptor.outputs] == [("c", ["Timestamp"])]


def test_key_root_follows_the_convention() -> None:
    # The Rust client's value for the same key (README's example).
    assert str(key_root("customer", "alice@example.com")) == "c57e8e17-f3ed-5b23-ae80-3eeaf5831466"
    assert key_root("customer", "alice@example.com").version == 5
