"""Matching an expected message, written as JSON, against an actual one (README "Matching").

Only the fields the JSON lists are compared; nested messages recursively; a listed repeated
field must have the same length and match element by element; a listed map must have the
same keys and matching values; a field listed with its default value must be unset or
default. Well-known types (`google.protobuf.*`) are compared whole.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from feature_runner.values import (
    StepError,
    describe,
    element_json,
    fields,
    is_map,
    map_value,
    message_from_json,
    message_type,
    parse_json,
    to_json,
)


class Expected:
    """An expected message: the fields as written (which ones are listed) and the message
    they parse to (the values, checked against the type)."""

    def __init__(self, type_: type[Message], text: str) -> None:
        self.json = parse_json(text)
        if not isinstance(self.json, dict):
            raise StepError(f"expected {type_.DESCRIPTOR.name} as a JSON object, got {text}")
        self.message = message_from_json(type_, self.json)

    @classmethod
    def named(cls, domain: str, name: str, text: str) -> Expected:
        return cls(message_type(domain, name), text)

    def describe(self) -> str:
        return f"{self.message.DESCRIPTOR.name} {json.dumps(self.json, separators=(',', ':'))}"

    def check(self, actual: Message) -> None:
        """Raises `StepError` naming the first field that differs and both messages."""
        if self.message.DESCRIPTOR.full_name != actual.DESCRIPTOR.full_name:
            raise StepError(f"expected {self.describe()}, got {describe(actual)}")
        try:
            match_message(self.json, self.message, actual, "")
        except StepError as mismatch:
            raise StepError(
                f"{mismatch}\n  expected: {self.describe()}\n  actual:   {describe(actual)}"
            ) from None


def field_named(descriptor: Descriptor | Any, name: str, path: str) -> FieldDescriptor:
    for field in fields(descriptor):
        if name in (field.name, field.json_name):
            return field
    raise StepError(f"{path}{name}: no such field in {descriptor.name}")


def match_message(listed: Any, expected: Message, actual: Message, path: str) -> None:
    if not isinstance(listed, dict):
        return
    for name, value in listed.items():
        field = field_named(expected.DESCRIPTOR, name, path)
        want, got = getattr(expected, field.name), getattr(actual, field.name)
        singular_message = field.message_type is not None and not field.is_repeated
        if singular_message and want != got and not (expected.HasField(field.name) and actual.HasField(field.name)):
            # One side is unset: say null rather than show an empty message.
            shown = [
                json.dumps(to_json(getattr(m, field.name)) if m.HasField(field.name) else None, separators=(",", ":"))
                for m in (expected, actual)
            ]
            raise StepError(f"{path}{field.name}: expected {shown[0]}, actual {shown[1]}")
        match_field(field, value, want, got, path + field.name)


def match_field(field: FieldDescriptor, listed: Any, want: Any, got: Any, path: str) -> None:
    if is_map(field):
        if sorted(want.keys()) != sorted(got.keys()):
            raise mismatch(field, path, want, got)
        value_field = map_value(field)
        listed = listed if isinstance(listed, dict) else {}
        for key in want:
            match_element(value_field, listed.get(str(key)), want[key], got[key], f"{path}[{key!r}]")
    elif field.is_repeated:
        if len(want) != len(got):
            raise mismatch(field, path, want, got)
        listed = listed if isinstance(listed, list) else []
        for index, (w, g) in enumerate(zip(want, got)):
            item = listed[index] if index < len(listed) else None
            match_element(field, item, w, g, f"{path}[{index}]")
    else:
        match_element(field, listed, want, got, path)


def match_element(field: FieldDescriptor, listed: Any, want: Any, got: Any, path: str) -> None:
    """One singular value: a field, a list element or a map value."""
    nested = field.message_type is not None and not field.message_type.full_name.startswith("google.protobuf.")
    if nested and isinstance(listed, dict):
        match_message(listed, want, got, path + ".")
    elif want != got:
        raise mismatch(field, path, want, got, element=True)


def mismatch(field: FieldDescriptor, path: str, want: Any, got: Any, element: bool = False) -> StepError:
    return StepError(f"{path}: expected {value_json(field, want, element)}, actual {value_json(field, got, element)}")


def value_json(field: FieldDescriptor, value: Any, element: bool) -> str:
    if element:
        shown = element_json(field, value)
    elif is_map(field):
        value_field = map_value(field)
        shown = {str(k): element_json(value_field, v) for k, v in value.items()}
    else:
        shown = [element_json(field, v) for v in value]
    return json.dumps(shown, separators=(",", ":"))


def check_timestamps(message: Message) -> None:
    """An emitted event must set all its `*_at` timestamps (README "Values")."""
    unset = [
        field.name
        for field in fields(message.DESCRIPTOR)
        if field.name.endswith("_at")
        and field.message_type is not None
        and field.message_type.full_name == "google.protobuf.Timestamp"
        and not message.HasField(field.name)
    ]
    if unset:
        raise StepError(f"{message.DESCRIPTOR.name} leaves {', '.join(unset)} unset: {describe(message)}")


def check_list(what: str, expected: list[tuple[str, Expected]], actual: list[tuple[str, Message]]) -> None:
    """Matches actual messages against expected ones, exactly and in order; each side has a
    place (`cart <root> ` for commands, `` for events)."""
    if len(expected) != len(actual):
        raise StepError(both_lists(f"expected {len(expected)} {what}, got {len(actual)}", what, expected, actual))
    for index, ((want_at, want), (got_at, got)) in enumerate(zip(expected, actual)):
        try:
            if want_at != got_at:
                raise StepError(
                    f"expected {want.describe()} at {want_at.strip()}, got {describe(got)} at {got_at.strip()}"
                )
            want.check(got)
        except StepError as problem:
            text = f"{what} #{index + 1}: {problem}"
            raise StepError(text if len(expected) == 1 else both_lists(text, what, expected, actual)) from None


def both_lists(problem: str, what: str, expected: list[tuple[str, Expected]], actual: list[tuple[str, Message]]) -> str:
    lines = [problem, f"expected {what}:"]
    lines += [f"  {at}{want.describe()}" for at, want in expected]
    lines += [f"actual {what}:" + ("" if actual else " none")]
    lines += [f"  {at}{describe(got)}" for at, got in actual]
    return "\n".join(lines)


__all__ = ["Expected", "check_list", "check_timestamps", "to_json"]
