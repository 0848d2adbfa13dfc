"""CommandRouter: dispatch, rebuild, rejections, descriptor. A toy counter aggregate: state and
events are Int64Value totals, an Int32Value command adds its value."""

import grpc
import pytest
from google.protobuf.wrappers_pb2 import Int32Value, Int64Value, StringValue

from angzarr import CommandRouter, StatusError, guard, int64, pack, validate
from angzarr import types_pb2 as types
from angzarr.testing import given

counter = CommandRouter("counter", Int64Value)


@counter.on
def add(state: Int64Value, cmd: Int32Value) -> Int64Value:
    validate(cmd.value >= 1, "value must be positive")
    return Int64Value(value=int64(state.value + cmd.value))


@counter.on
def twice(state: Int64Value, cmd: StringValue) -> list[Int64Value]:
    guard(cmd.value == "twice", "only twice")
    return [Int64Value(value=state.value + 1), Int64Value(value=state.value + 2)]


@counter.apply
def added(state: Int64Value, event: Int64Value) -> None:
    state.value = event.value


def request(history: list[int], commands: list[Int32Value | StringValue], snapshot: int | None = None) -> types.ContextualCommand:
    events = types.EventBook(pages=[types.EventPage(num=n, event=pack(Int64Value(value=v))) for n, v in enumerate(history)])
    if snapshot is not None:
        events.snapshot.state.CopyFrom(pack(Int64Value(value=snapshot)))
    book = types.CommandBook(pages=[types.CommandPage(command=pack(c)) for c in commands])
    return types.ContextualCommand(events=events, command=book)


def totals(book: types.EventBook) -> list[int]:
    values = []
    for page in book.pages:
        event = Int64Value()
        page.event.Unpack(event)
        values.append(event.value)
    return values


@pytest.mark.parametrize(
    ("history", "snapshot", "commands", "expected"),
    [
        ([], None, [Int32Value(value=1)], [1]),
        ([5, 7], None, [Int32Value(value=1)], [8]),
        ([], 10, [Int32Value(value=1)], [11]),
        ([], None, [StringValue(value="twice")], [1, 2]),
        ([], None, [Int32Value(value=1), Int32Value(value=1)], [1, 2]),
    ],
)
def test_handles_commands_against_the_rebuilt_state(
    history: list[int], snapshot: int | None, commands: list[Int32Value | StringValue], expected: list[int]
) -> None:
    book = counter.handle(request(history, commands, snapshot))
    assert totals(book) == expected
    state = Int64Value()
    book.snapshot_state.Unpack(state)
    assert state.value == expected[-1]


@pytest.mark.parametrize(
    ("history", "commands", "code", "words"),
    [
        ([], [Int32Value(value=0)], grpc.StatusCode.INVALID_ARGUMENT, "value must be positive"),
        ([2**63 - 1], [Int32Value(value=1)], grpc.StatusCode.INVALID_ARGUMENT, "overflow"),
        ([], [StringValue(value="once")], grpc.StatusCode.FAILED_PRECONDITION, "only twice"),
        ([], [Int32Value(value=1), Int32Value(value=-1)], grpc.StatusCode.INVALID_ARGUMENT, "positive"),
        ([], [], grpc.StatusCode.INVALID_ARGUMENT, "the command book holds no command"),
    ],
)
def test_rejections_become_status_errors(
    history: list[int], commands: list[Int32Value | StringValue], code: grpc.StatusCode, words: str
) -> None:
    with pytest.raises(StatusError) as raised:
        counter.handle(request(history, commands))
    assert (raised.value.code, words in raised.value.message) == (code, True)


def test_bad_input_is_a_clear_error() -> None:
    unknown = types.ContextualCommand(
        command=types.CommandBook(pages=[types.CommandPage(command=pack(Int64Value()))])
    )
    with pytest.raises(StatusError, match=r"counter does not handle command type 'google.protobuf.Int64Value'; "
                       r"it handles: google.protobuf.Int32Value, google.protobuf.StringValue"):
        counter.handle(unknown)
    malformed = request([], [Int32Value()])
    malformed.command.pages[0].command.value = b"\xff"
    with pytest.raises(StatusError, match="malformed google.protobuf.Int32Value") as raised:
        counter.handle(malformed)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    no_apply = types.EventBook(pages=[types.EventPage(event=pack(Int32Value()))])
    with pytest.raises(StatusError, match="no apply function for event type google.protobuf.Int32Value") as raised:
        counter.rebuild(no_apply)
    assert raised.value.code == grpc.StatusCode.INTERNAL


def test_registration_needs_typed_handlers() -> None:
    router = CommandRouter("x", Int64Value)
    with pytest.raises(TypeError, match="annotate parameter 'cmd'"):
        router.on(lambda state, cmd: [])
    router.on(lambda state, cmd: [], Int32Value)
    assert list(router.descriptor().inputs[0].types) == ["Int32Value"]


def test_describes_itself_with_short_command_names() -> None:
    descriptor = counter.descriptor()
    assert (descriptor.name, descriptor.component_type) == ("counter", "aggregate")
    assert [(t.domain, list(t.types)) for t in descriptor.inputs] == [("counter", ["Int32Value", "StringValue"])]


def test_given_when_then() -> None:
    assert given(counter, Int64Value(value=10)).when(Int32Value(value=5)).event(Int64Value).value == 15
    assert given(counter).when(Int32Value(value=5)).state.value == 5
    assert given(counter).and_(Int64Value(value=3)).state.value == 3
    given(counter).when(Int32Value(value=0)).rejected(grpc.StatusCode.INVALID_ARGUMENT, "POSITIVE")
    with pytest.raises(AssertionError, match="expected exactly one google.protobuf.Int64Value"):
        given(counter).when(StringValue(value="twice")).event(Int64Value)
    with pytest.raises(AssertionError, match="expected the rejection FAILED_PRECONDITION"):
        given(counter).when(Int32Value(value=0)).rejected(grpc.StatusCode.FAILED_PRECONDITION, "positive")
    with pytest.raises(AssertionError, match="the command was rejected"):
        _ = given(counter).when(Int32Value(value=0)).events
