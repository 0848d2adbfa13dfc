"""Protobuf plumbing shared by the routers: packing, roots, covers, timestamps."""

from __future__ import annotations

import uuid
from typing import TypeVar

from google.protobuf import any_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.message import DecodeError, Message

from angzarr import types_pb2

M = TypeVar("M", bound=Message)

TYPE_URL_PREFIX = "type.googleapis.com/"


def now() -> timestamp_pb2.Timestamp:
    """The current time, for the `*_at` fields of events."""
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def key_root(domain: str, key: str) -> uuid.UUID:
    """The deterministic root of the aggregate of `domain` identified by a business key:
    UUIDv5(NAMESPACE_OID, "angzarr:<domain>:<key>").

    The runtime keeps a process manager's state at `key_root(<its name>, <correlation id>)`;
    the example shop addresses customers, products and inventory the same way."""
    return uuid.uuid5(uuid.NAMESPACE_OID, f"angzarr:{domain}:{key}")


def full_name(message_type: type[Message]) -> str:
    """`examples.cart.AddItem` of a generated message class."""
    return message_type.DESCRIPTOR.full_name


def type_name(any: any_pb2.Any) -> str:
    """The full message name an `Any` holds (`examples.cart.AddItem`)."""
    return any.type_url.rsplit("/", 1)[-1]


def short_name(any: any_pb2.Any) -> str:
    """The message name without its package (`AddItem`)."""
    return type_name(any).rsplit(".", 1)[-1]


def pack(message: Message) -> any_pb2.Any:
    """`message` in an `Any` with the standard type URL."""
    return any_pb2.Any(
        type_url=TYPE_URL_PREFIX + message.DESCRIPTOR.full_name,
        value=message.SerializeToString(),
    )


def unpack(any: any_pb2.Any, message_type: type[M]) -> M:
    """The `message_type` in `any`; `TypeError` if it holds another type, `DecodeError` if
    its bytes are not one."""
    if type_name(any) != full_name(message_type):
        raise TypeError(f"{any.type_url} is not a {full_name(message_type)}")
    message = message_type()
    message.ParseFromString(any.value)
    return message


def unpack_if(any: any_pb2.Any, message_type: type[M]) -> M | None:
    """The `message_type` in `any`, or None if it holds something else (or garbage)."""
    try:
        return unpack(any, message_type)
    except (TypeError, DecodeError):
        return None


def proto_uuid(root: uuid.UUID) -> types_pb2.UUID:
    """A root as Angzarr's UUID message (16 raw bytes)."""
    return types_pb2.UUID(value=root.bytes)


def from_proto_uuid(root: types_pb2.UUID) -> uuid.UUID | None:
    """The UUID in Angzarr's UUID message, or None if it is not 16 bytes."""
    return uuid.UUID(bytes=root.value) if len(root.value) == 16 else None


def cover(domain: str, root: uuid.UUID, correlation_id: str = "") -> types_pb2.Cover:
    """The cover of the aggregate `root` of `domain`."""
    return types_pb2.Cover(domain=domain, root=proto_uuid(root), correlation_id=correlation_id)


def message_class(name: str) -> type[Message]:
    """The generated class of the message type `name` (`examples.cart.AddItem`), from the
    default descriptor pool (its module must have been imported); `KeyError` if unknown."""
    return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(name))


def unpack_any(any: any_pb2.Any) -> Message:
    """The message in `any`, of whatever (imported) type it holds."""
    message = message_class(type_name(any))()
    message.ParseFromString(any.value)
    return message
