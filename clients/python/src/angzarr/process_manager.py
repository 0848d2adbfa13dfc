"""A process manager from plain functions.

A process manager correlates events of several domains by correlation id and keeps its own
event-sourced state per correlation (the runtime stores it in the domain named after it, at
`key_root(<name>, <correlation id>)`). A handler takes the state, the event's context and the
event, and yields what it decides: a message is an event of its own history (recorded), a
`Command` is sent::

    pm = ProcessManagerRouter("order-fulfillment", OrderFulfillmentState).sends("fulfillment", Ship)

    @pm.on("order")
    def paid(state: OrderFulfillmentState, ctx: EventContext, event: PaymentSubmitted) -> Effects:
        yield PrerequisiteCompleted(prerequisite="payment", ...)
        if ready:
            yield Command("fulfillment", root, Ship(carrier="auto", ...))

    @pm.apply
    def completed(state: OrderFulfillmentState, event: PrerequisiteCompleted) -> None: ...

State is rebuilt from that history through apply functions, as for an aggregate. The runtime
hands over the triggers of one correlation id one at a time, so a handler decides from
(state, trigger) alone. A trigger without a correlation id belongs to no workflow and is
ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import Message

from angzarr import distribution_pb2, types_pb2
from angzarr._plumbing import decode, files_of, message_parameter, unary
from angzarr.event import Command, EventContext, Rejected, declare, stamped
from angzarr.event_router import declared_name
from angzarr.messages import full_name, pack, type_name
from angzarr.rejection import StatusError

S = TypeVar("S", bound=Message)
E = TypeVar("E", bound=Message)

SERVICE_NAME = "angzarr.ProcessManager"

#: What a process-manager handler yields: events of its own history and commands to send.
Effects = Iterable[Message | Command]
TriggerHandler = Callable[[S, EventContext, E], Effects]
RejectionHandler = Callable[[S, Rejected], Effects]


class ProcessManagerRouter(Generic[S]):
    """The process manager `name` (also the domain of its own history) whose state is a
    `state_type` message; serves `angzarr.ProcessManager` with `angzarr.run`."""

    def __init__(self, name: str, state_type: type[S]) -> None:
        self.name = name
        self.state_type = state_type
        self._inputs: list[types_pb2.Target] = []
        self._outputs: list[types_pb2.Target] = []
        self._output_types: list[type[Message]] = []
        self._triggers: dict[tuple[str, str], tuple[type[Message], TriggerHandler[S, Message]]] = {}
        self._appliers: dict[str, tuple[type[Message], Callable[[S, Message], None]]] = {}
        self._on_rejection: RejectionHandler[S] | None = None

    def on(
        self, domain: str, event_type: type[E] | None = None
    ) -> Callable[[TriggerHandler[S, E]], TriggerHandler[S, E]]:
        """A decorator: the function handles events of `domain` of the type of its third
        parameter (or `event_type`): `(state, context, event) -> effects`."""

        def register(handler: TriggerHandler[S, E]) -> TriggerHandler[S, E]:
            event = message_parameter(handler, 2, "event", event_type)
            declare(self._inputs, domain, event.DESCRIPTOR.name)
            self._triggers[(domain, full_name(event))] = (event, handler)  # type: ignore[assignment]
            return handler

        return register

    def sends(self, domain: str, *commands: type[Message] | str) -> ProcessManagerRouter[S]:
        """Declares that it sends these commands (classes or short names) to `domain`."""
        for command in commands:
            declare(self._outputs, domain, declared_name(command))
            if not isinstance(command, str):
                self._output_types.append(command)
        return self

    def apply(
        self, apply: Callable[[S, E], None], event_type: type[E] | None = None
    ) -> Callable[[S, E], None]:
        """Folds its own events of the type of the function's second parameter (or
        `event_type`) into the state, in place. Usable as a decorator."""
        event = message_parameter(apply, 1, "event", event_type)
        self._appliers[full_name(event)] = (event, apply)  # type: ignore[assignment]
        return apply

    def on_rejection(self, handler: RejectionHandler[S]) -> RejectionHandler[S]:
        """Handles the rejection of a command it sent, with its state for that correlation.
        Usable as a decorator."""
        self._on_rejection = handler
        return handler

    def descriptor(self) -> types_pb2.ComponentDescriptor:
        """Inputs from the handlers, outputs from `sends`."""
        return types_pb2.ComponentDescriptor(
            name=self.name,
            component_type="process_manager",
            inputs=self._inputs,
            outputs=self._outputs,
        )

    def rebuild(self, history: types_pb2.EventBook) -> S:
        """The state after its own `history` (snapshot, then events)."""
        state = self.state_type()
        if history.HasField("snapshot") and history.snapshot.HasField("state"):
            state = decode(history.snapshot.state, self.state_type, grpc.StatusCode.INTERNAL)
        for page in history.pages:
            if page.HasField("event"):
                self._apply_event(state, page.event)
        return state

    def _apply_event(self, state: S, event: any_pb2.Any) -> None:
        name = type_name(event)
        if name not in self._appliers:
            raise StatusError(
                grpc.StatusCode.INTERNAL,
                f"{self.name}: no apply function for event type {name}; register one with @pm.apply",
            )
        event_type, apply = self._appliers[name]
        apply(state, decode(event, event_type, grpc.StatusCode.INTERNAL))

    def handle(
        self, request: distribution_pb2.ProcessManagerRequest
    ) -> distribution_pb2.ProcessManagerResponse:
        """The whole `ProcessManager.Handle`."""
        if not request.HasField("trigger"):
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, "the request carries no trigger")
        state = self.rebuild(request.state)
        events: list[any_pb2.Any] = []
        commands: list[Command] = []
        correlation_id = ""
        for context, event in EventContext.pages(request.trigger):
            if not context.correlation_id:
                continue
            found = self._triggers.get((context.domain, type_name(event)))
            if found is None:
                continue
            event_type, handler = found
            decided = handler(state, context, decode(event, event_type, grpc.StatusCode.INVALID_ARGUMENT))
            new_events, new_commands = self._split(decided)
            for new_event in new_events:
                self._apply_event(state, new_event)
            events += new_events
            commands += new_commands
            correlation_id = context.correlation_id
        return self._respond(request.state, events, commands, correlation_id)

    def handle_rejection(
        self, request: distribution_pb2.ProcessManagerRejectionRequest
    ) -> distribution_pb2.ProcessManagerResponse:
        """The whole `ProcessManager.HandleRejection`."""
        if not request.HasField("rejection"):
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, "the request carries no rejection")
        rejected = Rejected.from_proto(request.rejection)
        events: list[any_pb2.Any] = []
        commands: list[Command] = []
        if self._on_rejection is not None:
            events, commands = self._split(self._on_rejection(self.rebuild(request.state), rejected))
        return self._respond(request.state, events, commands, rejected.correlation_id)

    @staticmethod
    def _split(effects: Effects) -> tuple[list[any_pb2.Any], list[Command]]:
        events: list[any_pb2.Any] = []
        commands: list[Command] = []
        for effect in effects:
            if isinstance(effect, Command):
                commands.append(effect)
            else:
                events.append(pack(effect))
        return events, commands

    def _respond(
        self,
        history: types_pb2.EventBook,
        events: list[any_pb2.Any],
        commands: list[Command],
        correlation_id: str,
    ) -> distribution_pb2.ProcessManagerResponse:
        return distribution_pb2.ProcessManagerResponse(
            events=types_pb2.EventBook(
                cover=history.cover, pages=[types_pb2.EventPage(event=e) for e in events]
            ),
            commands=stamped(commands, self.name, correlation_id, self._outputs),
        )

    # Serving (see angzarr.run).

    @property
    def service_name(self) -> str:
        return SERVICE_NAME

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        """`angzarr.ProcessManager` over this router."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Handle": unary(
                    self.handle,
                    distribution_pb2.ProcessManagerRequest,
                    distribution_pb2.ProcessManagerResponse,
                ),
                "HandleRejection": unary(
                    self.handle_rejection,
                    distribution_pb2.ProcessManagerRejectionRequest,
                    distribution_pb2.ProcessManagerResponse,
                ),
                "GetDescriptor": unary(
                    lambda _: self.descriptor(),
                    types_pb2.GetDescriptorRequest,
                    types_pb2.ComponentDescriptor,
                ),
            },
        )

    def descriptor_files(self) -> list[FileDescriptor]:
        """The .proto files of its state, its events, its triggers and its commands."""
        types: list[type[Message]] = [self.state_type]
        types += [t for t, _ in self._appliers.values()] + [t for t, _ in self._triggers.values()]
        return files_of(types + self._output_types)

    def __repr__(self) -> str:
        return f"ProcessManagerRouter({self.descriptor()})"
