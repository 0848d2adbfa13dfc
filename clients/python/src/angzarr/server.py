"""Serving business logic where the runtime expects it.

The runtime starts each business-logic process with `ANGZARR_SOCKET=<path>`, waits until
`grpc.health.v1` on that socket answers SERVING, and stops the process with SIGTERM. gRPC
server reflection is served too (`grpc.reflection.v1` and `v1alpha`), listing the services of
the .proto files the component's messages come from, so that `angzarr send` and generic tools
find its message types without sharing .proto files.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn, Protocol

import grpc
from google.protobuf.descriptor import FileDescriptor


# grpcio-health-checking and grpcio-reflection ship no type information.
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection, reflection_pb2  # type: ignore[import-untyped]

log = logging.getLogger("angzarr")

#: The environment variable holding the socket path to serve on.
SOCKET_ENV = "ANGZARR_SOCKET"
# The runtime's limit on a message to or from business logic (angzarr_proto::MAX_LOGIC_MESSAGE_BYTES):
# grpc-core's default of 4 MiB would refuse a command with a long history.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


class Servable(Protocol):
    """What `serve` runs: every router (a projector router opens its store from the
    environment)."""

    @property
    def service_name(self) -> str: ...

    def rpc_handler(self) -> grpc.GenericRpcHandler: ...

    def descriptor_files(self) -> list[FileDescriptor]: ...


class SocketNotSet(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            f"{SOCKET_ENV} is not set. This program is business logic that the Angzarr runtime "
            f"starts (`angzarr-standalone run`), and the runtime sets {SOCKET_ENV}; to run it by "
            f"hand, set {SOCKET_ENV}=/path/to/a.sock"
        )


def socket_path_from_env() -> str:
    """The socket path from `ANGZARR_SOCKET` (unset and empty are errors)."""
    path = os.environ.get(SOCKET_ENV, "")
    if not path:
        raise SocketNotSet()
    return path


def channel(socket_path: str) -> grpc.Channel:
    """A client channel to a gRPC server on a Unix socket: the runtime's (`gateway.sock`,
    `<domain>.sock`, ...) or a component's. It sends `localhost` as the HTTP/2 authority:
    gRPC Python would otherwise send the socket path, which the runtime's server refuses
    (RST_STREAM)."""
    return grpc.insecure_channel(f"unix:{socket_path}", options=[("grpc.default_authority", "localhost")])


def service_names(service: Servable, files: Iterable[FileDescriptor]) -> list[str]:
    """What reflection lists: the served services and those of the component's files (the
    example protos declare a service per aggregate only so that reflection finds them)."""
    names = [service.service_name, health.SERVICE_NAME, reflection.SERVICE_NAME, REFLECTION_V1]
    for file in [*files, *service.descriptor_files()]:
        names += [s.full_name for s in file.services_by_name.values()]
    return list(dict.fromkeys(names))


class Server:
    """A running component: `service` with health and reflection on a Unix socket."""

    def __init__(
        self, service: Servable, socket_path: str, files: Sequence[FileDescriptor] = (), workers: int = 8
    ) -> None:
        self.socket_path = socket_path
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._server.add_generic_rpc_handlers([service.rpc_handler()])
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        names = service_names(service, files)
        reflector = reflection.ReflectionServicer(names)
        reflection.enable_server_reflection(names, self._server)
        # grpcio-reflection serves v1alpha only; v1 is the same protocol under a new name.
        self._server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    REFLECTION_V1,
                    {
                        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                            reflector.ServerReflectionInfo,
                            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                        )
                    },
                )
            ]
        )
        self._service_name = service.service_name
        if self._server.add_insecure_port(f"unix:{socket_path}") == 0:
            raise OSError(f"cannot listen on the Unix socket {socket_path}")

    def start(self) -> None:
        self._server.start()
        for name in ("", self._service_name):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving %s on %s", self._service_name, self.socket_path)

    def stop(self, grace: float = 5.0) -> None:
        """Reports NOT_SERVING, lets in-flight calls finish (up to `grace` seconds), and
        removes the socket file."""
        for name in ("", self._service_name):
            self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self._server.stop(grace).wait()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass


def serve(
    service: Servable,
    *files: FileDescriptor,
    socket_path: str | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serves `service` (any router) on `socket_path` (default: `$ANGZARR_SOCKET`) with
    health and reflection until SIGTERM or SIGINT (or until `stop` is set). `files` are
    further .proto files for reflection; those of the router's messages are served anyway."""
    path = socket_path or socket_path_from_env()
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda received, frame: stop.set())
    server = Server(service, path, files)
    server.start()
    stop.wait()
    log.info("stopping %s", service.service_name)
    server.stop()


def run(service: Servable, *files: FileDescriptor) -> NoReturn:
    """The whole `main` of a business-logic process: logs to stderr (level from
    `ANGZARR_LOG_LEVEL`, default INFO), `serve`s `service`, and exits with 0 after SIGTERM or
    1 (saying why) when it cannot serve."""
    logging.basicConfig(
        level=os.environ.get("ANGZARR_LOG_LEVEL", "INFO").upper(),
        # The runtime prefixes each line with its own time and the component's name.
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        serve(service, *files)
    except (SocketNotSet, OSError, RuntimeError) as err:
        name = getattr(service, "name", None) or getattr(service, "domain", service.service_name)
        print(f"{name}: {err}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
