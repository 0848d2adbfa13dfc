"""Write Angzarr business logic in Python.

The only contract between Angzarr and business logic is gRPC + protobuf; this package removes
the boilerplate of honouring it from Python:

- `CommandRouter` (aggregates), `EventRouter` (sagas), `ProcessManagerRouter` and
  `ProjectorRouter` turn plain, typed functions into Angzarr's services and derive the
  descriptor the runtime routes from out of what is registered.
- `CommandRejected` (and `guard`, `validate`, `int32`, `int64`) refuse a command with the right
  gRPC status.
- `run(router)` is the whole `main` of a component: it serves the router on the socket in
  `ANGZARR_SOCKET`, with `grpc.health.v1` and server reflection, until SIGTERM.
- `angzarr.testing.given` unit-tests an aggregate in memory.
- `channel(socket_path)` connects to the runtime's sockets (e.g. `gateway.sock`, with
  `gateway_pb2_grpc.CommandGatewayStub`).

The generated protobuf modules are `angzarr.types_pb2`, `angzarr.aggregate_pb2`,
`angzarr.distribution_pb2`, `angzarr.gateway_pb2`, `angzarr.runtime_pb2` (and `*_pb2_grpc`).
"""

from angzarr.command_router import CommandRouter, Emitted
from angzarr.event import Command, EventContext, Rejected
from angzarr.event_router import EventRouter
from angzarr.messages import (
    cover,
    from_proto_uuid,
    full_name,
    key_root,
    message_class,
    now,
    pack,
    proto_uuid,
    type_name,
    unpack,
    unpack_any,
)
from angzarr.process_manager import Effects, ProcessManagerRouter
from angzarr.projector import PROJECTION_DB_ENV, ProjectorRouter, RowStore, ServedProjector
from angzarr.rejection import CommandRejected, StatusError, guard, int32, int64, validate
from angzarr.server import SOCKET_ENV, Servable, Server, SocketNotSet, channel, run, serve

__all__ = [
    "PROJECTION_DB_ENV",
    "SOCKET_ENV",
    "Command",
    "CommandRejected",
    "CommandRouter",
    "Effects",
    "Emitted",
    "EventContext",
    "EventRouter",
    "ProcessManagerRouter",
    "ProjectorRouter",
    "Rejected",
    "RowStore",
    "Servable",
    "ServedProjector",
    "Server",
    "SocketNotSet",
    "StatusError",
    "channel",
    "cover",
    "from_proto_uuid",
    "full_name",
    "guard",
    "int32",
    "int64",
    "key_root",
    "message_class",
    "now",
    "pack",
    "proto_uuid",
    "run",
    "serve",
    "type_name",
    "unpack",
    "unpack_any",
    "validate",
]
