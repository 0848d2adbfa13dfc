"""Internals shared by the routers: typed registration and gRPC method handlers."""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable, Iterable
from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import DecodeError, Message

from angzarr.messages import full_name
from angzarr.rejection import StatusError

log = logging.getLogger("angzarr")

M = TypeVar("M", bound=Message)
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


def message_parameter(
    function: Callable[..., object], index: int, role: str, given: type[M] | None
) -> type[M]:
    """The message class a handler takes at parameter `index`: `given`, else its annotation."""
    if given is not None:
        return given
    name = getattr(function, "__qualname__", repr(function))
    try:
        parameters = list(inspect.signature(function).parameters)
        hints = typing.get_type_hints(function)
    except (NameError, TypeError, ValueError) as err:
        raise TypeError(f"{name}: cannot read the {role}'s type from the annotations ({err}); pass the class") from err
    if len(parameters) <= index:
        raise TypeError(f"{name} takes {len(parameters)} parameters; it needs the {role} as #{index + 1}")
    hint = hints.get(parameters[index])
    if not (isinstance(hint, type) and issubclass(hint, Message)):
        raise TypeError(
            f"{name}: annotate parameter {parameters[index]!r} with the {role}'s message class "
            f"(e.g. `{parameters[index]}: AddItem`), or pass the class when registering"
        )
    return typing.cast(type[M], hint)


def decode(any: any_pb2.Any, message_type: type[M], error: grpc.StatusCode) -> M:
    """The message in `any` (whose type was matched by name already)."""
    message = message_type()
    try:
        message.ParseFromString(any.value)
    except DecodeError as err:
        what = "malformed" if error == grpc.StatusCode.INVALID_ARGUMENT else "cannot decode"
        raise StatusError(error, f"{what} {full_name(message_type)}: {err}") from err
    return message


def unary(
    behaviour: Callable[[Req], Resp], request_type: type[Req], response_type: type[Resp]
) -> grpc.RpcMethodHandler[Req, Resp]:
    """A unary method: `StatusError`s become their status, anything else INTERNAL."""

    def call(request: Req, context: grpc.ServicerContext) -> Resp:
        try:
            return behaviour(request)
        except StatusError as err:
            context.abort(err.code, err.message)
        except Exception as err:  # a bug in business logic: say what it was
            log.exception("%s failed", getattr(behaviour, "__qualname__", "handler"))
            context.abort(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}")

    return grpc.unary_unary_rpc_method_handler(
        call,
        request_deserializer=request_type.FromString,
        response_serializer=response_type.SerializeToString,
    )


def files_of(message_types: Iterable[type[Message]]) -> list[FileDescriptor]:
    """The .proto files defining `message_types`, once each, in order."""
    files: dict[str, FileDescriptor] = {}
    for message_type in message_types:
        file = typing.cast(FileDescriptor, message_type.DESCRIPTOR.file)
        files.setdefault(file.name, file)
    return list(files.values())
