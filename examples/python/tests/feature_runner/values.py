"""Values written in feature text: placeholders, roots, messages as protobuf JSON, statuses.

A step names a message by its short name (`AddItem`) in a domain's package
(`examples.<domain>`) and gives its fields as JSON with the proto field names;
`google.protobuf.json_format` turns that into the generated message and back.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import uuid
from typing import Any, cast

import examples
import grpc
from angzarr import StatusError, key_root, message_class, type_name
from google.protobuf import any_pb2, json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

# Every example message type must be in the default pool to be found by name.
for _module in pkgutil.iter_modules(examples.__path__):
    importlib.import_module(f"examples.{_module.name}")


class StepError(AssertionError):
    """A step failed; the message says why, with the scenario's values as written."""


def package(domain: str) -> str:
    """The protobuf package of a domain's (or a process manager's) messages."""
    return "examples." + domain.replace("-", "_")


def message_type(domain: str, name: str) -> type[Message]:
    """The message type `name` of `domain` (`AddItem` in `cart` is `examples.cart.AddItem`)."""
    full = f"{package(domain)}.{name}"
    try:
        return message_class(full)
    except KeyError:
        raise StepError(f"unknown message {name} in domain {domain} (no type {full})") from None


def parse_json(text: str) -> Any:
    """JSON text of a step (empty means `{}`)."""
    text = text.strip() or "{}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise StepError(f"invalid JSON {text}: {err}") from None


def message_from_json(message_type: type[Message], value: Any) -> Message:
    """A `message_type` from JSON in the protobuf JSON mapping (unknown fields and values of
    the wrong type are errors)."""
    try:
        return json_format.ParseDict(value, message_type())
    except json_format.ParseError as err:
        raise StepError(f"{json.dumps(value)} is not a valid {message_type.DESCRIPTOR.name}: {err}") from None


def parse_message(domain: str, name: str, text: str) -> Message:
    return message_from_json(message_type(domain, name), parse_json(text))


def pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def unpack(any: any_pb2.Any) -> Message:
    """The message in `any`, whose type must be known."""
    try:
        message = message_class(type_name(any))()
    except KeyError:
        raise StepError(f"unknown message type {any.type_url!r}") from None
    message.ParseFromString(any.value)
    return message


def to_json(message: Message) -> Any:
    """A message as JSON for people: proto field names, every field, 64-bit integers as
    numbers, unset messages as null; well-known types in their JSON mapping."""
    if message.DESCRIPTOR.full_name.startswith("google.protobuf."):
        return json_format.MessageToDict(message)
    out: dict[str, Any] = {}
    for field in fields(message.DESCRIPTOR):
        value = getattr(message, field.name)
        if is_map(field):
            value_field = map_value(field)
            out[field.name] = {str(k): element_json(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [element_json(field, v) for v in value]
        elif field.message_type is not None and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = element_json(field, value)
    return out


def element_json(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None:
        return to_json(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return value.hex()
    if field.enum_type is not None:
        number = field.enum_type.values_by_number.get(value)
        return number.name if number is not None else value
    return value


def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def map_value(field: FieldDescriptor) -> FieldDescriptor:
    """The value field of a map field's entries."""
    assert field.message_type is not None
    return field.message_type.fields_by_name["value"]


def fields(descriptor: Descriptor | Any) -> list[FieldDescriptor]:
    """The fields of a message type (typed: the stubs also admit the C implementation's)."""
    return cast(list[FieldDescriptor], list(descriptor.fields))


def describe(message: Message) -> str:
    """`Name {json}` of a message, on one line."""
    return f"{message.DESCRIPTOR.name} {json.dumps(to_json(message), separators=(',', ':'))}"


def describe_any(any: any_pb2.Any) -> str:
    try:
        return describe(unpack(any))
    except StepError as err:
        return f"<{err}>"


def parse_root(text: str) -> uuid.UUID:
    """A root written in a step, after placeholder substitution: a UUID, or
    `key(<domain>, <key>)` for the examples' deterministic root."""
    text = text.strip()
    if text.startswith("key(") and text.endswith(")"):
        domain, comma, key = text[4:-1].partition(",")
        if not comma:
            raise StepError(f"root {text}: expected key(<domain>, <key>)")
        return key_root(domain.strip(), key.strip())
    try:
        return uuid.UUID(text)
    except ValueError:
        raise StepError(f"root {text!r}: expected $NAME, a UUID or key(<domain>, <key>)") from None


def parse_code(name: str) -> grpc.StatusCode:
    """The status code named `name` (`FAILED_PRECONDITION`)."""
    try:
        return grpc.StatusCode[name]
    except KeyError:
        raise StepError(
            f"unknown status {name!r}: expected a gRPC code name such as FAILED_PRECONDITION"
        ) from None


def describe_status(error: StatusError) -> str:
    return f"{error.code.name}: {error.message}"


def check_rejection(error: StatusError, code: str, words: str) -> None:
    """Whether `error` is the rejection `<code> "<words>"` (words compared case-insensitively)."""
    if error.code != parse_code(code) or words.lower() not in error.message.lower():
        raise StepError(f"expected the rejection {code} {words!r}, got {describe_status(error)}")


PLACEHOLDER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class Placeholders:
    """The UUIDs standing for `$NAME` placeholders in one scenario: one fresh UUIDv4 per name."""

    def __init__(self) -> None:
        self.names: dict[str, uuid.UUID] = {}
        #: Other UUIDs met in the scenario, by how the feature wrote them (`key(inventory, A)`).
        self.aliases: dict[uuid.UUID, str] = {}

    def get(self, name: str) -> uuid.UUID:
        return self.names.setdefault(name, uuid.uuid4())

    def substitute(self, text: str) -> str:
        """`text` with every `$NAME` replaced by its UUID in lowercase hyphenated form."""
        return PLACEHOLDER.sub(lambda m: str(self.get(m[1])), text)

    def root(self, text: str) -> uuid.UUID:
        """A root written in a step, remembered for `restore`."""
        text = self.substitute(text).strip()
        root = parse_root(text)
        if text.startswith("key("):
            self.aliases[root] = text
        return root

    def restore(self, text: str) -> str:
        """`text` with every UUID of this scenario written as in the feature again."""
        written = {u: f"${n}" for n, u in self.names.items()} | self.aliases
        for root, alias in written.items():
            text = text.replace(str(root), alias)
        return text
