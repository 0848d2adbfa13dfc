"""An aggregate from plain functions: the command router.

Business logic should read like the rules it implements, so a command handler is a function
`(state, command) -> event` (or several events) that raises `CommandRejected` to refuse, and
an apply function folds one event into the state::

    customer = CommandRouter("customer", CustomerState)

    @customer.on
    def create(state: CustomerState, cmd: CreateCustomer) -> CustomerCreated:
        guard(not state.exists, "customer already exists")
        validate(cmd.name, "name is required")
        return CustomerCreated(name=cmd.name, email=cmd.email, created_at=now())

    @customer.apply
    def created(state: CustomerState, event: CustomerCreated) -> None:
        state.exists = True

The router does the protobuf plumbing: unpacking the `Any`s, rebuilding the state from the
snapshot and the events, dispatching on the command's type, packing the new events, offering
the new state for snapshotting, and describing itself to the runtime (its domain and the
commands it handles, from the registrations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import Message

from angzarr import types_pb2
from angzarr._plumbing import decode, files_of, message_parameter, unary
from angzarr.messages import full_name, pack, type_name
from angzarr.rejection import StatusError

S = TypeVar("S", bound=Message)
C = TypeVar("C", bound=Message)
E = TypeVar("E", bound=Message)

#: What a command handler returns: one event, or several in order.
Emitted = Message | Iterable[Message]

SERVICE_NAME = "angzarr.BusinessLogic"


class CommandRouter(Generic[S]):
    """An aggregate of `domain` whose state is a `state_type` message (so it can travel as
    a snapshot); serves `angzarr.BusinessLogic` with `angzarr.run`."""

    def __init__(self, domain: str, state_type: type[S]) -> None:
        self.domain = domain
        self.state_type = state_type
        self._commands: dict[str, tuple[type[Message], Callable[[S, Message], Emitted]]] = {}
        self._appliers: dict[str, tuple[type[Message], Callable[[S, Message], None]]] = {}

    def on(
        self, handler: Callable[[S, C], Emitted], command_type: type[C] | None = None
    ) -> Callable[[S, C], Emitted]:
        """Handles commands of the type of the handler's second parameter (or
        `command_type`): guard, validate, compute, emit. Usable as a decorator. Registering
        a type again replaces its handler."""
        command = message_parameter(handler, 1, "command", command_type)
        self._commands.pop(full_name(command), None)
        self._commands[full_name(command)] = (command, handler)  # type: ignore[assignment]
        return handler

    def apply(
        self, apply: Callable[[S, E], None], event_type: type[E] | None = None
    ) -> Callable[[S, E], None]:
        """Folds events of the type of the function's second parameter (or `event_type`)
        into the state, in place. Every event type the history may hold needs one (see
        `ignore` for events that change nothing): an unknown event is an error rather than
        silently wrong state. Usable as a decorator."""
        event = message_parameter(apply, 1, "event", event_type)
        self._appliers[full_name(event)] = (event, apply)  # type: ignore[assignment]
        return apply

    def ignore(self, *event_types: type[Message]) -> None:
        """Events of these types change nothing in the state (notifications for others)."""
        for event_type in event_types:
            self._appliers[full_name(event_type)] = (event_type, lambda state, event: None)

    def descriptor(self) -> types_pb2.ComponentDescriptor:
        """How the aggregate describes itself: its domain and the short names of the commands
        it handles."""
        types = [command.DESCRIPTOR.name for command, _ in self._commands.values()]
        return types_pb2.ComponentDescriptor(
            name=self.domain,
            component_type="aggregate",
            inputs=[types_pb2.Target(domain=self.domain, types=types)],
        )

    def rebuild(self, history: types_pb2.EventBook) -> S:
        """The state after `history`: its snapshot (or the empty state) with every event
        applied in order."""
        state = self.state_type()
        if history.HasField("snapshot") and history.snapshot.HasField("state"):
            snapshot = history.snapshot.state
            if type_name(snapshot) != full_name(self.state_type):
                raise StatusError(
                    grpc.StatusCode.INTERNAL,
                    f"{self.domain}: the snapshot holds {type_name(snapshot)}, not {full_name(self.state_type)}",
                )
            state = decode(snapshot, self.state_type, grpc.StatusCode.INTERNAL)
        for index, page in enumerate(history.pages):
            if not page.HasField("event"):
                raise StatusError(
                    grpc.StatusCode.INTERNAL, f"{self.domain}: history page {index} holds no event"
                )
            self.apply_event(state, page.event)
        return state

    def apply_event(self, state: S, event: any_pb2.Any) -> None:
        """Applies one packed event to `state`."""
        name = type_name(event)
        if name not in self._appliers:
            raise StatusError(
                grpc.StatusCode.INTERNAL,
                f"{self.domain}: no apply function for event type {name}; register one with "
                "@router.apply (or router.ignore for events that change nothing)",
            )
        event_type, apply = self._appliers[name]
        apply(state, decode(event, event_type, grpc.StatusCode.INTERNAL))

    def execute(self, state: S, command: any_pb2.Any) -> list[any_pb2.Any]:
        """Runs the handler of one packed command against `state`: the new events, packed."""
        name = type_name(command)
        if name not in self._commands:
            raise StatusError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{self.domain} does not handle command type {name!r}; it handles: "
                + ", ".join(self._commands),
            )
        command_type, handler = self._commands[name]
        emitted = handler(state, decode(command, command_type, grpc.StatusCode.INVALID_ARGUMENT))
        events = [emitted] if isinstance(emitted, Message) else list(emitted)
        return [pack(event) for event in events]

    def handle(self, request: types_pb2.ContextualCommand) -> types_pb2.EventBook:
        """The whole `BusinessLogic.Handle`: rebuilds the state from `request.events`, runs
        each command page in order (each sees the events of the ones before) and answers the
        new events (numbered by the runtime) with the resulting state as `snapshot_state`.
        Any rejection rejects the whole book."""
        if not request.HasField("command"):
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, "the request carries no command book")
        book = request.command
        if not book.pages:
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, "the command book holds no command")
        state = self.rebuild(request.events)
        pages = []
        for index, page in enumerate(book.pages):
            if not page.HasField("command"):
                raise StatusError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"command page {index} holds no command"
                )
            for event in self.execute(state, page.command):
                self.apply_event(state, event)
                pages.append(types_pb2.EventPage(event=event))
        return types_pb2.EventBook(
            cover=book.cover if book.HasField("cover") else request.events.cover,
            pages=pages,
            snapshot_state=pack(state),
        )

    # Serving (see angzarr.run).

    @property
    def service_name(self) -> str:
        return SERVICE_NAME

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        """`angzarr.BusinessLogic` over this router."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Handle": unary(self.handle, types_pb2.ContextualCommand, types_pb2.EventBook),
                "GetDescriptor": unary(
                    lambda _: self.descriptor(),
                    types_pb2.GetDescriptorRequest,
                    types_pb2.ComponentDescriptor,
                ),
            },
        )

    def descriptor_files(self) -> list[FileDescriptor]:
        """The .proto files of its state, commands and events (served by reflection)."""
        types: list[type[Message]] = [self.state_type]
        types += [t for t, _ in self._commands.values()] + [t for t, _ in self._appliers.values()]
        return files_of(types)

    def __repr__(self) -> str:
        return f"CommandRouter({self.domain!r}, commands={list(self._commands)}, events={sorted(self._appliers)})"
