"""The server: the router, health and reflection on a Unix socket, until stopped."""

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.wrappers_pb2 import Int32Value, Int64Value, StringValue

from angzarr import (
    CommandRouter,
    EventContext,
    ProjectorRouter,
    RowStore,
    Server,
    SocketNotSet,
    channel,
    cover,
    key_root,
    pack,
    serve,
    validate,
)
from angzarr import aggregate_pb2_grpc, distribution_pb2_grpc, types_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection_pb2  # type: ignore[import-untyped]

counter = CommandRouter("counter", Int64Value)


@counter.on
def add(state: Int64Value, cmd: Int32Value) -> Int64Value:
    validate(cmd.value >= 1, "value must be positive")
    return Int64Value(value=state.value + cmd.value)


@counter.apply
def added(state: Int64Value, event: Int64Value) -> None:
    state.value = event.value


@pytest.fixture
def socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "counter.sock"
    server = Server(counter, str(path))
    server.start()
    yield path
    server.stop()
    assert not path.exists()


def reflect(client: grpc.Channel, service: str, request: reflection_pb2.ServerReflectionRequest) -> reflection_pb2.ServerReflectionResponse:
    call = client.stream_stream(
        f"/{service}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    return next(iter(call(iter([request]))))


def test_serves_the_router_health_and_reflection(socket: Path) -> None:
    with channel(str(socket)) as client:
        health = health_pb2_grpc.HealthStub(client).Check(health_pb2.HealthCheckRequest(service=""))
        assert health.status == health_pb2.HealthCheckResponse.SERVING

        logic = aggregate_pb2_grpc.BusinessLogicStub(client)
        assert logic.GetDescriptor(types_pb2.GetDescriptorRequest()).name == "counter"
        request = types_pb2.ContextualCommand(
            command=types_pb2.CommandBook(pages=[types_pb2.CommandPage(command=pack(Int32Value(value=2)))])
        )
        assert len(logic.Handle(request).pages) == 1
        request.command.pages[0].command.CopyFrom(pack(Int32Value(value=0)))
        with pytest.raises(grpc.RpcError) as rejected:
            logic.Handle(request)
        assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert rejected.value.details() == "value must be positive"

        for service in ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"):
            listed = reflect(client, service, reflection_pb2.ServerReflectionRequest(list_services=""))
            names = [s.name for s in listed.list_services_response.service]
            assert "angzarr.BusinessLogic" in names and "grpc.health.v1.Health" in names
            found = reflect(
                client, service, reflection_pb2.ServerReflectionRequest(file_containing_symbol="angzarr.CommandBook")
            )
            assert found.HasField("file_descriptor_response")


def test_a_history_past_grpcs_default_limit_is_accepted_up_to_the_runtimes(socket: Path) -> None:
    # grpc-core refuses messages over 4 MiB unless told otherwise; the runtime sends up to
    # 64 MiB (a command with a long history), so the server must take that much.
    added = pack(Int64Value(value=1))
    history = types_pb2.EventBook(
        pages=[types_pb2.EventPage(num=i, event=added) for i in range(120_000)]
    )
    request = types_pb2.ContextualCommand(
        events=history,
        command=types_pb2.CommandBook(pages=[types_pb2.CommandPage(command=pack(Int32Value(value=2)))]),
    )
    assert request.ByteSize() > 4 * 1024 * 1024
    with channel(str(socket)) as client:
        answer = aggregate_pb2_grpc.BusinessLogicStub(client).Handle(request)
    assert len(answer.pages) == 1


def test_serve_needs_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANGZARR_SOCKET", raising=False)
    with pytest.raises(SocketNotSet, match="angzarr-standalone run"):
        serve(counter, stop=threading.Event())


def test_serve_stops_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.sock"
    monkeypatch.setenv("ANGZARR_SOCKET", str(path))
    stop = threading.Event()
    serving = threading.Thread(target=serve, args=(counter,), kwargs={"stop": stop})
    serving.start()
    with channel(str(path)) as client:
        grpc.channel_ready_future(client).result(timeout=10)
    stop.set()
    serving.join(timeout=10)
    assert not serving.is_alive() and not path.exists()


def test_a_served_projector_writes_to_the_store_the_environment_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    projector = ProjectorRouter("projector-names", domain="people")

    @projector.on
    def named(rows: RowStore, ctx: EventContext, event: StringValue) -> None:
        rows.put(str(ctx.root), event)

    database = tmp_path / "rows" / "names.db"
    monkeypatch.setenv("ANGZARR_PROJECTION_DB", str(database))
    server = Server(projector, str(tmp_path / "p.sock"))
    server.start()
    try:
        root = key_root("people", "ada")
        book = types_pb2.EventBook(
            cover=cover("people", root), pages=[types_pb2.EventPage(num=7, event=pack(StringValue(value="Ada")))]
        )
        with channel(str(tmp_path / "p.sock")) as client:
            projection = distribution_pb2_grpc.ProjectorStub(client).HandleSync(book)
        assert (projection.projector, projection.sequence) == ("projector-names", 7)
        assert projection.projection == pack(StringValue(value="Ada"))
    finally:
        server.stop()
    assert RowStore.open(database).get(str(root), StringValue) == StringValue(value="Ada")
