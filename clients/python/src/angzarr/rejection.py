"""Business rejections and the checks that raise them.

A rejection is the business logic saying "no": it emits nothing, changes nothing, and the
runtime hands it to the caller unchanged and never retries it. Handlers raise
`CommandRejected`; the routers answer it as a gRPC status with the same code and message.
The helpers below read like the rules they check::

    guard(not state.exists, "customer already exists")   # FAILED_PRECONDITION
    validate(cmd.name, "name is required")                # INVALID_ARGUMENT
    new_balance = int64(state.loyalty_points + cmd.points)  # INVALID_ARGUMENT "overflow"
"""

from __future__ import annotations

import grpc

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class StatusError(Exception):
    """An error answered to the caller as a gRPC status (code and message)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class CommandRejected(StatusError):
    """A command refused by a business rule."""

    @classmethod
    def failed_precondition(cls, message: str) -> CommandRejected:
        """Existence, lifecycle or state forbids the command (FAILED_PRECONDITION)."""
        return cls(grpc.StatusCode.FAILED_PRECONDITION, message)

    @classmethod
    def invalid_argument(cls, message: str) -> CommandRejected:
        """A field of the command is wrong, alone or against the state (INVALID_ARGUMENT)."""
        return cls(grpc.StatusCode.INVALID_ARGUMENT, message)

    @classmethod
    def not_found(cls, message: str) -> CommandRejected:
        """What the command names does not exist inside the aggregate (NOT_FOUND)."""
        return cls(grpc.StatusCode.NOT_FOUND, message)

    @classmethod
    def overflow(cls) -> CommandRejected:
        """A sum or product does not fit its field type: INVALID_ARGUMENT "overflow"."""
        return cls.invalid_argument("overflow")


def guard(condition: object, message: str) -> None:
    """Rejects with FAILED_PRECONDITION `message` unless `condition` holds."""
    if not condition:
        raise CommandRejected.failed_precondition(message)


def validate(condition: object, message: str) -> None:
    """Rejects with INVALID_ARGUMENT `message` unless `condition` holds (a non-empty string
    or a true comparison)."""
    if not condition:
        raise CommandRejected.invalid_argument(message)


def int32(value: int) -> int:
    """`value` if it fits an int32 field, else INVALID_ARGUMENT "overflow"."""
    if not INT32_MIN <= value <= INT32_MAX:
        raise CommandRejected.overflow()
    return value


def int64(value: int) -> int:
    """`value` if it fits an int64 field, else INVALID_ARGUMENT "overflow"."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise CommandRejected.overflow()
    return value
