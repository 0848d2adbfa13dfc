"""What the event-driven components (sagas, process managers, projectors) share: the stored
event a handler reacts to, the commands it sends, and the rejection of one of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message

from angzarr import distribution_pb2, types_pb2
from angzarr.messages import cover, from_proto_uuid, pack, short_name, unpack_if
from angzarr.rejection import StatusError

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class EventContext:
    """The stored event a handler is reacting to."""

    #: The domain of the aggregate that stored it.
    domain: str
    #: That aggregate's root.
    root: uuid.UUID
    #: Its sequence within that aggregate.
    sequence: int
    #: Its position in the global log.
    position: int
    #: The workflow it belongs to; commands sent in reaction carry it too.
    correlation_id: str

    @staticmethod
    def pages(book: types_pb2.EventBook) -> list[tuple[EventContext, any_pb2.Any]]:
        """The context of every page of `book`, with its event, in order."""
        if not book.HasField("cover"):
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, "the event book carries no cover")
        root = from_proto_uuid(book.cover.root)
        if root is None:
            raise StatusError(
                grpc.StatusCode.INVALID_ARGUMENT, "the event book's cover has no valid root"
            )
        pages = []
        for index, page in enumerate(book.pages):
            if not page.HasField("event"):
                raise StatusError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"event page {index} holds no event"
                )
            context = EventContext(
                domain=book.cover.domain,
                root=root,
                sequence=page.num,
                position=page.position,
                correlation_id=book.cover.correlation_id,
            )
            pages.append((context, page.event))
        return pages


@dataclass(frozen=True)
class Command:
    """A command to send: `message` for the aggregate `root` of `domain`. The router stamps
    it with the correlation id of the event being handled."""

    domain: str
    root: uuid.UUID
    message: Message


def declare(targets: list[types_pb2.Target], domain: str, type_name: str) -> None:
    """Adds `(domain, type_name)` to a descriptor's target list, merging by domain."""
    for target in targets:
        if target.domain == domain:
            if type_name not in target.types:
                target.types.append(type_name)
            return
    targets.append(types_pb2.Target(domain=domain, types=[type_name]))


def stamped(
    commands: Iterable[Command], component: str, correlation_id: str, outputs: list[types_pb2.Target]
) -> list[types_pb2.CommandBook]:
    """The command books, each carrying `correlation_id`, after checking that each command is
    declared in `outputs` (so the descriptor the runtime routes from never lies)."""
    books = []
    for command in commands:
        name = command.message.DESCRIPTOR.name
        declared = any(t.domain == command.domain and name in t.types for t in outputs)
        if not declared:
            raise StatusError(
                grpc.StatusCode.INTERNAL,
                f"{component} sends {name} to {command.domain} without declaring it; "
                f'add .sends("{command.domain}", {name})',
            )
        books.append(
            types_pb2.CommandBook(
                cover=cover(command.domain, command.root, correlation_id),
                pages=[types_pb2.CommandPage(command=pack(command.message))],
            )
        )
    return books


@dataclass(frozen=True)
class Rejected:
    """A command this component sent was rejected by its aggregate."""

    #: The domain the command went to.
    domain: str
    #: The aggregate it went to.
    root: uuid.UUID | None
    #: The command (the first page of the rejected book).
    command: any_pb2.Any
    #: The rejection's status code.
    code: grpc.StatusCode
    #: The rejection's message.
    message: str
    #: The event that made this component send the command, when the runtime provided it.
    source: tuple[EventContext, any_pb2.Any] | None
    #: The correlation id the command carried.
    correlation_id: str

    @staticmethod
    def from_proto(rejection: distribution_pb2.CommandRejection) -> Rejected:
        if not rejection.HasField("command"):
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, "the rejection carries no command")
        book = rejection.command
        if not book.pages or not book.pages[0].HasField("command"):
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, "the rejected command book is empty")
        source = None
        if rejection.HasField("source_event"):
            pages = EventContext.pages(rejection.source_event)
            source = pages[-1] if pages else None
        return Rejected(
            domain=book.cover.domain,
            root=from_proto_uuid(book.cover.root),
            command=book.pages[0].command,
            code=status_code(rejection.code),
            message=rejection.message,
            source=source,
            correlation_id=book.cover.correlation_id,
        )

    @property
    def command_name(self) -> str:
        """The rejected command's short message name (`ReserveStock`)."""
        return short_name(self.command)

    def command_as(self, message_type: type[M]) -> M | None:
        """The rejected command, if it is a `message_type`."""
        return unpack_if(self.command, message_type)

    def source_event_as(self, message_type: type[M]) -> M | None:
        """The event that caused the command, if it is a `message_type`."""
        return None if self.source is None else unpack_if(self.source[1], message_type)


def status_code(value: int) -> grpc.StatusCode:
    """The gRPC status code numbered `value` (UNKNOWN for numbers gRPC does not define)."""
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN
