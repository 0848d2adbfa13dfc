"""A saga from plain functions: the event router.

A saga is stateless: each event of its source domain maps to commands for other domains::

    saga = EventRouter("saga-order-fulfillment", source="order").sends("fulfillment", CreateShipment)

    @saga.on
    def completed(ctx: EventContext, event: OrderCompleted) -> Iterator[Command]:
        yield Command("fulfillment", ctx.root, CreateShipment(order_id=str(ctx.root)))

The router unpacks the events, dispatches on their type, stamps the commands with the event's
correlation id, and derives the descriptor (inputs from the handlers, outputs from `sends`),
so that the runtime routes exactly what the code handles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import grpc
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import Message

from angzarr import distribution_pb2, types_pb2
from angzarr._plumbing import decode, files_of, message_parameter, unary
from angzarr.event import Command, EventContext, Rejected, declare, stamped
from angzarr.messages import full_name, type_name

E = TypeVar("E", bound=Message)

SERVICE_NAME = "angzarr.Saga"

EventHandler = Callable[[EventContext, E], Iterable[Command]]
RejectionHandler = Callable[[Rejected], Iterable[Command]]


def declared_name(command: type[Message] | str) -> str:
    """The short name a descriptor lists for a command given as a class or a name."""
    return command if isinstance(command, str) else command.DESCRIPTOR.name


class EventRouter:
    """The saga `name`, reacting to events of `source`; serves `angzarr.Saga` with
    `angzarr.run`."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self._outputs: list[types_pb2.Target] = []
        self._output_types: list[type[Message]] = []
        self._handlers: dict[str, tuple[type[Message], EventHandler[Message]]] = {}
        self._on_rejection: RejectionHandler | None = None

    def sends(self, domain: str, *commands: type[Message] | str) -> EventRouter:
        """Declares that the saga sends these commands (classes or short names) to `domain`.
        Sending an undeclared command is an error, so the descriptor always tells the truth."""
        for command in commands:
            declare(self._outputs, domain, declared_name(command))
            if not isinstance(command, str):
                self._output_types.append(command)
        return self

    def on(
        self, handler: EventHandler[E], event_type: type[E] | None = None
    ) -> EventHandler[E]:
        """Handles events of the type of the handler's second parameter (or `event_type`):
        `(context, event) -> commands`. Only handled types are delivered. Usable as a
        decorator; registering a type again replaces its handler."""
        event = message_parameter(handler, 1, "event", event_type)
        self._handlers.pop(full_name(event), None)
        self._handlers[full_name(event)] = (event, handler)  # type: ignore[assignment]
        return handler

    def on_rejection(self, handler: RejectionHandler) -> RejectionHandler:
        """Handles the rejection of a command this saga sent: returns compensating commands
        (usually to the source aggregate, found in `rejected.source`), or none. Without it a
        rejection ends there. Usable as a decorator."""
        self._on_rejection = handler
        return handler

    def descriptor(self) -> types_pb2.ComponentDescriptor:
        """Inputs: the source domain and the handled event types; outputs: what it sends."""
        types = [event.DESCRIPTOR.name for event, _ in self._handlers.values()]
        return types_pb2.ComponentDescriptor(
            name=self.name,
            component_type="saga",
            inputs=[types_pb2.Target(domain=self.source, types=types)],
            outputs=self._outputs,
        )

    def handle(self, book: types_pb2.EventBook) -> distribution_pb2.SagaResponse:
        """The whole `Saga.Handle`: the commands for every event of `book`, in order."""
        commands: list[types_pb2.CommandBook] = []
        for context, event in EventContext.pages(book):
            found = self._handlers.get(type_name(event))
            if found is None:
                continue
            event_type, handler = found
            emitted = handler(context, decode(event, event_type, grpc.StatusCode.INVALID_ARGUMENT))
            commands += stamped(emitted, self.name, context.correlation_id, self._outputs)
        return distribution_pb2.SagaResponse(commands=commands)

    def handle_rejection(
        self, rejection: distribution_pb2.CommandRejection
    ) -> distribution_pb2.SagaResponse:
        """The whole `Saga.HandleRejection`: the compensating commands, if any."""
        rejected = Rejected.from_proto(rejection)
        if self._on_rejection is None:
            return distribution_pb2.SagaResponse()
        emitted = self._on_rejection(rejected)
        return distribution_pb2.SagaResponse(
            commands=stamped(emitted, self.name, rejected.correlation_id, self._outputs)
        )

    # Serving (see angzarr.run).

    @property
    def service_name(self) -> str:
        return SERVICE_NAME

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        """`angzarr.Saga` over this router."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Handle": unary(self.handle, types_pb2.EventBook, distribution_pb2.SagaResponse),
                "HandleRejection": unary(
                    self.handle_rejection,
                    distribution_pb2.CommandRejection,
                    distribution_pb2.SagaResponse,
                ),
                "GetDescriptor": unary(
                    lambda _: self.descriptor(),
                    types_pb2.GetDescriptorRequest,
                    types_pb2.ComponentDescriptor,
                ),
            },
        )

    def descriptor_files(self) -> list[FileDescriptor]:
        """The .proto files of the events it handles and the commands it sends."""
        return files_of([t for t, _ in self._handlers.values()] + self._output_types)

    def __repr__(self) -> str:
        return f"EventRouter({self.descriptor()})"
