"""The world of the unit features: one component under test, driven through its handlers in
memory (README "Aggregates", "Sagas and process managers", "Projectors").

Each step of test_features.py calls one method here with the texts it captured; the method
substitutes the placeholders, parses, runs the handler and checks, raising `StepError` with a
readable message (the scenario's UUIDs written as in the feature) when it fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from angzarr import (
    CommandRouter,
    EventRouter,
    ProcessManagerRouter,
    ProjectorRouter,
    RowStore,
    StatusError,
    cover,
    from_proto_uuid,
    key_root,
    now,
    type_name,
)
from angzarr import distribution_pb2 as dist
from angzarr import types_pb2 as types
from google.protobuf import any_pb2
from google.protobuf.message import Message
from shop import registry

from feature_runner.matching import Expected, check_list, check_timestamps
from feature_runner.values import (
    Placeholders,
    StepError,
    check_rejection,
    describe_any,
    describe_status,
    message_type,
    pack,
    parse_code,
    parse_message,
    unpack,
)

Table = Sequence[Sequence[str]]


def rows_of(table: Table | None, columns: list[str]) -> Table:
    """The rows of a step's table, each with `len(columns)` cells."""
    layout = "| " + " | ".join(columns) + " |"
    if table is None:
        raise StepError(f"the step needs a table of rows {layout}")
    for row in table:
        if len(row) != len(columns):
            raise StepError(f"table row {list(row)} does not have the layout {layout}")
    return table


def page(sequence: int, position: int, event: any_pb2.Any) -> types.EventPage:
    return types.EventPage(num=sequence, created_at=now(), event=event, position=position)


def history(book_cover: types.Cover, events: list[any_pb2.Any]) -> types.EventBook:
    """A history as the runtime hands it to business logic."""
    return types.EventBook(
        cover=book_cover,
        pages=[page(n, 0, e) for n, e in enumerate(events)],
        next_sequence=len(events),
    )


def emitted(book: types.EventBook) -> list[any_pb2.Any]:
    """The events of a book, each checked to set its `*_at` timestamps."""
    events = [p.event for p in book.pages if p.HasField("event")]
    for event in events:
        check_timestamps(unpack(event))
    return events


def destination(book: types.CommandBook) -> str:
    """`domain root ` of a command book (where the command goes)."""
    root = from_proto_uuid(book.cover.root)
    return f"{book.cover.domain} {root if root is not None else '<no root>'} "


def commands(books: list[types.CommandBook]) -> list[tuple[str, Message]]:
    out = []
    for book in books:
        if not book.pages:
            raise StepError(f"a command book to {destination(book)}holds no command")
        out += [(destination(book), unpack(p.command)) for p in book.pages]
    return out


def describe_commands(books: list[types.CommandBook]) -> str:
    described = [f"{destination(b)}{describe_any(p.command)}" for b in books for p in b.pages]
    return "; ".join(described) or "nothing"


def failed(who: str, error: StatusError) -> StepError:
    return StepError(f"{who} failed: {describe_status(error)}")


@dataclass
class AggregateTest:
    domain: str
    aggregate: CommandRouter[Any]
    history: list[any_pb2.Any] = field(default_factory=list)
    #: What the last command did: its events, or its rejection.
    outcome: list[any_pb2.Any] | StatusError | None = None


@dataclass
class ReactiveTest:
    """A saga or a process manager."""

    name: str
    saga: EventRouter | None = None
    pm: ProcessManagerRouter[Any] | None = None
    #: A process manager's own history per correlation id.
    histories: dict[str, list[any_pb2.Any]] = field(default_factory=dict)
    #: The last event delivered (the source of the commands it sent).
    last_event: types.EventBook | None = None
    #: The commands of the last step (what a rejection step refers to).
    pending: list[types.CommandBook] = field(default_factory=list)
    #: The commands of the last `When` step.
    sent: list[types.CommandBook] | None = None
    #: The new events of its own history of the last `When` step (process managers).
    recorded: list[any_pb2.Any] | None = None

    def own_history(self, correlation_id: str) -> types.EventBook:
        assert self.pm is not None
        events = self.histories.setdefault(correlation_id, [])
        return history(cover(self.pm.name, key_root(self.pm.name, correlation_id), correlation_id), events)

    def finish(self, events: list[any_pb2.Any] | None, books: list[types.CommandBook], outcome: bool) -> None:
        self.pending = books
        self.sent = books if outcome else None
        self.recorded = events if outcome else None


@dataclass
class ProjectorTest:
    name: str
    projector: ProjectorRouter
    rows: RowStore
    last_event: types.EventBook | None = None

    def handle_last(self) -> None:
        if self.last_event is None:
            raise StepError("no event was handled yet")
        try:
            self.projector.handle(self.rows, self.last_event)
        except StatusError as err:
            raise failed(self.name, err) from None


class UnitWorld:
    """The state of one scenario."""

    def __init__(self) -> None:
        self.names = Placeholders()
        self.subject: AggregateTest | ReactiveTest | ProjectorTest | None = None
        #: The sequence the next delivered event of (domain, root) gets.
        self.sequences: dict[tuple[str, uuid.UUID], int] = {}
        #: The global position of the last delivered event.
        self.position = 0

    def restore(self, text: str) -> str:
        return self.names.restore(text)

    def text(self, text: str) -> str:
        return self.names.substitute(text)

    def correlation(self, text: str | None) -> str:
        """A correlation id as written: none means the default `$C`, `""` means none."""
        text = (text or "").strip()
        if not text:
            return str(self.names.get("C"))
        return "" if text == '""' else self.text(text)

    def delivery(
        self, domain: str, root: uuid.UUID, correlation_id: str, sequence: int | None, event: any_pb2.Any
    ) -> types.EventBook:
        """One stored event of `domain`/`root` as delivered: the next sequence of that root (or
        `sequence`), the next global position."""
        following = self.sequences.get((domain, root), 0)
        sequence = following if sequence is None else sequence
        self.sequences[(domain, root)] = max(following, sequence + 1)
        self.position += 1
        return types.EventBook(
            cover=cover(domain, root, correlation_id),
            pages=[page(sequence, self.position, event)],
            next_sequence=sequence + 1,
        )

    # Aggregates.

    def aggregate(self) -> AggregateTest:
        if not isinstance(self.subject, AggregateTest):
            raise StepError("no aggregate under test: start with `Given the <domain> aggregate`")
        return self.subject

    def given_aggregate(self, domain: str) -> None:
        self.subject = AggregateTest(domain, lookup("aggregate", domain))

    def aggregate_history(self) -> types.EventBook:
        test = self.aggregate()
        return history(cover(test.domain, self.names.get("R")), test.history)

    def state_of(self, test: AggregateTest) -> Message:
        try:
            state: Message = test.aggregate.rebuild(self.aggregate_history())
        except StatusError as err:
            raise failed("rebuilding the state", err) from None
        return state

    def given_event(self, name: str, json: str) -> None:
        test = self.aggregate()
        test.history.append(pack(parse_message(test.domain, name, self.text(json))))
        self.state_of(test)

    def when_command(self, name: str, json: str) -> None:
        test = self.aggregate()
        command = pack(parse_message(test.domain, name, self.text(json)))
        request = types.ContextualCommand(
            events=self.aggregate_history(),
            command=types.CommandBook(
                cover=cover(test.domain, self.names.get("R"), str(self.names.get("C"))),
                pages=[types.CommandPage(command=command)],
            ),
        )
        try:
            events = emitted(test.aggregate.handle(request))
        except StatusError as err:
            test.outcome = err
            return
        test.history += events
        test.outcome = events

    def accepted(self) -> list[any_pb2.Any]:
        outcome = self.aggregate().outcome
        if outcome is None:
            raise StepError("no command was run: add `When <Command> <json>`")
        if isinstance(outcome, StatusError):
            raise StepError(f"the command was rejected with {describe_status(outcome)}")
        return outcome

    def then_events(self, table: Table | None) -> None:
        events = self.accepted()
        expected = self.expected_rows(table, self.aggregate().domain)
        check_list("events", expected, [("", unpack(e)) for e in events])

    def expected_rows(self, table: Table | None, domain: str) -> list[tuple[str, Expected]]:
        return [
            ("", Expected.named(domain, name.strip(), self.text(json)))
            for name, json in rows_of(table, ["<Event>", "<json>"])
        ]

    def then_rejected(self, code: str, words: str) -> None:
        outcome = self.aggregate().outcome
        words = self.text(words)
        if outcome is None:
            raise StepError("no command was run: add `When <Command> <json>`")
        if not isinstance(outcome, StatusError):
            emitted_events = "; ".join(describe_any(e) for e in outcome)
            raise StepError(
                f"expected the rejection {code} {words!r}, but the command was accepted and emitted: {emitted_events}"
            )
        check_rejection(outcome, code, words)

    def then_state(self, json: str) -> None:
        check_state(pack(self.state_of(self.aggregate())), self.text(json))

    # Sagas and process managers.

    def reactive(self) -> ReactiveTest:
        if not isinstance(self.subject, ReactiveTest):
            raise StepError(
                "no saga or process manager under test: start with `Given the <name> saga` "
                "or `Given the <name> process manager`"
            )
        return self.subject

    def given_saga(self, name: str) -> None:
        self.subject = ReactiveTest(name, saga=lookup("saga", name))

    def given_process_manager(self, name: str) -> None:
        pm: ProcessManagerRouter[Any] = lookup("process manager", name.removeprefix("pm-"))
        self.subject = ReactiveTest(pm.name, pm=pm)

    def receive(self, name: str, domain: str, root: str, correlation: str | None, json: str, outcome: bool) -> None:
        """`Given it received` / `When it receives <Event> from <domain> <root> [under
        correlation <id>] <json>`."""
        json = self.text(json)
        at = self.names.root(root)
        correlation_id = self.correlation(correlation)
        event = pack(parse_message(domain, name, json))
        test = self.reactive()
        book = self.delivery(domain, at, correlation_id, None, event)
        try:
            if test.saga is not None:
                test.finish(None, list(test.saga.handle(book).commands), outcome)
            else:
                assert test.pm is not None
                request = dist.ProcessManagerRequest(state=test.own_history(correlation_id), trigger=book)
                self.record(test, correlation_id, test.pm.handle(request), outcome)
        except StatusError as err:
            raise failed(test.name, err) from None
        test.last_event = book

    def record(self, test: ReactiveTest, correlation_id: str, response: dist.ProcessManagerResponse, outcome: bool) -> None:
        events = emitted(response.events)
        test.histories.setdefault(correlation_id, []).extend(events)
        test.finish(events, list(response.commands), outcome)

    def command_rejected(self, command: str, domain: str, root: str, code: str, words: str) -> None:
        """`When its command <Command> to <domain> <root> is rejected with <STATUS> "<words>"`."""
        at = self.names.root(root)
        words = self.text(words)
        status = parse_code(code)
        full_name = message_type(domain, command).DESCRIPTOR.full_name
        test = self.reactive()
        book = next(
            (
                b
                for b in test.pending
                if b.cover.domain == domain
                and from_proto_uuid(b.cover.root) == at
                and b.pages
                and type_name(b.pages[0].command) == full_name
            ),
            None,
        )
        if book is None:
            raise StepError(
                f"the last step sent no {command} to {domain} {at}; it sent: {describe_commands(test.pending)}"
            )
        rejection = dist.CommandRejection(command=book, code=status.value[0], message=words)
        if test.last_event is not None:
            source = test.last_event
            rejection.source.CopyFrom(
                types.EventRef(
                    domain=source.cover.domain,
                    root=source.cover.root,
                    edition=source.cover.edition,
                    sequence=source.pages[0].num,
                    position=source.pages[0].position,
                )
            )
            rejection.source_event.CopyFrom(source)
        correlation_id = book.cover.correlation_id
        try:
            if test.saga is not None:
                test.finish(None, list(test.saga.handle_rejection(rejection).commands), True)
            else:
                assert test.pm is not None
                request = dist.ProcessManagerRejectionRequest(
                    state=test.own_history(correlation_id), rejection=rejection
                )
                self.record(test, correlation_id, test.pm.handle_rejection(request), True)
        except StatusError as err:
            raise failed(test.name, err) from None

    def sent(self) -> list[types.CommandBook]:
        sent = self.reactive().sent
        if sent is None:
            raise StepError("no `When` step made it react (`Given it received` forgets the commands)")
        return sent

    def then_sends(self, table: Table | None) -> None:
        sent = self.sent()
        expected = []
        for domain, root, name, json in rows_of(table, ["<domain>", "<root>", "<Command>", "<json>"]):
            at = self.names.root(root)
            expected.append((f"{domain.strip()} {at} ", Expected.named(domain.strip(), name.strip(), self.text(json))))
        check_list("commands", expected, commands(sent))

    def then_sends_nothing(self) -> None:
        sent = self.sent()
        if sent:
            raise StepError(f"expected no command, it sent: {describe_commands(sent)}")

    def then_correlation(self, id: str) -> None:
        """Each command sent by the last step carries that correlation id (there must be one)."""
        wanted = self.correlation(id)
        test = self.reactive()
        if not test.pending:
            raise StepError("the last step sent no command")
        for book in test.pending:
            if book.cover.correlation_id != wanted:
                raise StepError(
                    f"expected correlation id {wanted!r}, the command to {destination(book)}"
                    f"carries {book.cover.correlation_id!r}"
                )

    def process_manager(self) -> tuple[ReactiveTest, ProcessManagerRouter[Any]]:
        test = self.reactive()
        if test.pm is None:
            raise StepError(f"{test.name} is a saga: it records no events")
        return test, test.pm

    def recorded(self) -> list[any_pb2.Any]:
        test, _ = self.process_manager()
        if test.recorded is None:
            raise StepError("no `When` step made it react")
        return test.recorded

    def then_records(self, table: Table | None) -> None:
        recorded = self.recorded()
        expected = self.expected_rows(table, self.reactive().name)
        check_list("recorded events", expected, [("", unpack(e)) for e in recorded])

    def then_records_nothing(self) -> None:
        recorded = self.recorded()
        if recorded:
            raise StepError(f"expected no new event, it recorded: {'; '.join(map(describe_any, recorded))}")

    def then_process_state(self, correlation: str | None, json: str) -> None:
        correlation_id = self.correlation(correlation)
        test, pm = self.process_manager()
        try:
            state = pm.rebuild(test.own_history(correlation_id))
        except StatusError as err:
            raise failed(f"rebuilding the state of {test.name}", err) from None
        check_state(pack(state), self.text(json))

    # Projectors.

    def projector(self) -> ProjectorTest:
        if not isinstance(self.subject, ProjectorTest):
            raise StepError("no projector under test: start with `Given the <name> projector`")
        return self.subject

    def given_projector(self, name: str) -> None:
        self.subject = ProjectorTest(name, lookup("projector", name), RowStore.in_memory())

    def project(self, name: str, domain: str, root: str, sequence: str, json: str) -> None:
        """`Given it handled` / `When it handles <Event> from <domain> <root> at sequence <n> <json>`."""
        json = self.text(json)
        at = self.names.root(root)
        try:
            number = int(sequence)
        except ValueError:
            raise StepError(f"sequence {sequence!r} is not a number") from None
        event = pack(parse_message(domain, name, json))
        test = self.projector()
        test.last_event = self.delivery(domain, at, str(self.names.get("C")), number, event)
        test.handle_last()

    def project_again(self) -> None:
        self.projector().handle_last()

    def row_key(self, text: str) -> str:
        """A row key as written: `key(<domain>, <key>)` is that root, anything else is literal."""
        text = text.strip()
        return str(self.names.root(text)) if text.startswith("key(") else self.text(text)

    def rows(self) -> list[tuple[str, any_pb2.Any]]:
        test = self.projector()
        try:
            return test.rows.rows()
        except StatusError as err:
            raise failed(f"reading the rows of {test.name}", err) from None

    def then_row(self, key: str, json: str) -> None:
        key = self.row_key(key)
        rows = dict(self.rows())
        if key not in rows:
            raise StepError(f"no row {key}; the rows are: {', '.join(rows) or 'none'}")
        check_state(rows[key], self.text(json))

    def then_rows(self, table: Table | None) -> None:
        wanted = sorted((self.row_key(k), self.text(j)) for k, j in rows_of(table, ["<key>", "<json>"]))
        rows = self.rows()
        if [k for k, _ in wanted] != [k for k, _ in rows]:
            want = "".join(f"\n  {k} {j}" for k, j in wanted)
            got = "".join(f"\n  {k} {describe_any(r)}" for k, r in rows) or " none"
            raise StepError(f"the rows differ\nexpected rows:{want}\nactual rows:{got}")
        expected = [(f"{k} ", Expected(type(unpack(r)), j)) for (k, j), (_, r) in zip(wanted, rows)]
        check_list("rows", expected, [(f"{k} ", unpack(r)) for k, r in rows])

    def then_no_rows(self) -> None:
        rows = self.rows()
        if rows:
            raise StepError("expected no rows, got: " + "; ".join(f"{k} {describe_any(r)}" for k, r in rows))


def lookup(kind: str, name: str) -> Any:
    try:
        return registry.find(kind, name)
    except LookupError as err:
        raise StepError(str(err)) from None


def check_state(state: any_pb2.Any, json: str) -> None:
    """Matches a packed state (or row) against JSON of its own type."""
    Expected(type(unpack(state)), json).check(unpack(state))
