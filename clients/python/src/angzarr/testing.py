"""Given/when/then for command handlers: unit-test an aggregate without any infrastructure.

::

    from angzarr.testing import given

    def test_points_add_up() -> None:
        added = (
            given(customer.aggregate, CustomerCreated(name="Alice"), LoyaltyPointsAdded(new_balance=50))
            .when(AddLoyaltyPoints(points=30))
            .event(LoyaltyPointsAdded)
        )
        assert added.new_balance == 80

    def test_zero_points_are_refused() -> None:
        given(customer.aggregate).when(AddLoyaltyPoints(points=0)).rejected(
            grpc.StatusCode.INVALID_ARGUMENT, "positive"
        )
"""

from __future__ import annotations

from typing import Generic, TypeVar

import grpc
from google.protobuf.message import Message

from angzarr import types_pb2
from angzarr.command_router import CommandRouter
from angzarr.messages import pack, unpack_any
from angzarr.rejection import StatusError

S = TypeVar("S", bound=Message)
E = TypeVar("E", bound=Message)


def given(router: CommandRouter[S], *events: Message) -> Given[S]:
    """A scenario against `router` whose history holds `events`."""
    return Given(router, list(events))


def _book(events: list[Message]) -> types_pb2.EventBook:
    pages = [types_pb2.EventPage(num=n, event=pack(e)) for n, e in enumerate(events)]
    return types_pb2.EventBook(pages=pages, next_sequence=len(events))


class Given(Generic[S]):
    """The history of a scenario."""

    def __init__(self, router: CommandRouter[S], history: list[Message]) -> None:
        self.router = router
        self.history = history

    def and_(self, *events: Message) -> Given[S]:
        """The same history with `events` appended."""
        return Given(self.router, self.history + list(events))

    @property
    def state(self) -> S:
        """The state the history rebuilds to."""
        return self.router.rebuild(_book(self.history))

    def when(self, command: Message) -> Then[S]:
        """Runs `command` against the history."""
        request = types_pb2.ContextualCommand(
            events=_book(self.history),
            command=types_pb2.CommandBook(pages=[types_pb2.CommandPage(command=pack(command))]),
        )
        try:
            book = self.router.handle(request)
        except StatusError as err:
            return Then(self, err)
        return Then(self, [unpack_any(page.event) for page in book.pages])


class Then(Generic[S]):
    """What a command did: its events, or its rejection."""

    def __init__(self, given: Given[S], outcome: list[Message] | StatusError) -> None:
        self._given = given
        self._outcome = outcome

    @property
    def events(self) -> list[Message]:
        """The emitted events (AssertionError if the command was rejected)."""
        if isinstance(self._outcome, StatusError):
            raise AssertionError(f"expected events, the command was rejected: {self._outcome}")
        return self._outcome

    def event(self, event_type: type[E]) -> E:
        """The one emitted event, which must be an `event_type`."""
        events = self.events
        if len(events) != 1 or not isinstance(events[0], event_type):
            names = [e.DESCRIPTOR.full_name for e in events]
            raise AssertionError(f"expected exactly one {event_type.DESCRIPTOR.full_name}, got {names}")
        return events[0]

    def rejected(self, code: grpc.StatusCode, words: str) -> StatusError:
        """Asserts that the command was rejected with `code` and a message containing `words`
        (case-insensitively); returns the rejection."""
        if not isinstance(self._outcome, StatusError):
            names = [e.DESCRIPTOR.full_name for e in self._outcome]
            raise AssertionError(f"expected a {code.name} rejection, got events {names}")
        if self._outcome.code != code or words.lower() not in self._outcome.message.lower():
            raise AssertionError(f"expected the rejection {code.name} {words!r}, got {self._outcome}")
        return self._outcome

    @property
    def state(self) -> S:
        """The state after the history and the emitted events."""
        return self._given.and_(*self.events).state
