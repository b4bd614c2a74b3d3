"""Typed plugin errors and their wire mapping (the same as Go's sdk.Error).

A :class:`PluginError` raised by a plugin crosses the process boundary as a
gRPC status whose code matches :class:`Code` one to one, with a
``parley.v1.ErrorDetail`` (code, message, details, retry_after_ms) in the
status details, so the Parley host sees exactly what a Go plugin returning
``*sdk.Error`` would produce.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Mapping, Optional, Tuple

import grpc

from parley_plugin._proto import wire_pb2
from parley_plugin._proto.parley.v1 import plugin_pb2

__all__ = ["Code", "PluginError", "invalid_field", "status_of"]

#: The trailer gRPC reads a google.rpc.Status (with details) from.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
_ERROR_DETAIL_TYPE_URL = "type.googleapis.com/parley.v1.ErrorDetail"
_MS_PER_SECOND = 1000


class Code(str, enum.Enum):
    """Classifies an error so the host can retry, trip a breaker or fall back."""

    CANCELED = "canceled"
    INVALID_ARGUMENT = "invalid_argument"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    FAILED_PRECONDITION = "failed_precondition"
    UNIMPLEMENTED = "unimplemented"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"
    UNAUTHENTICATED = "unauthenticated"

    @property
    def grpc_code(self) -> grpc.StatusCode:
        """The gRPC status code this code travels as."""
        return _GRPC_CODES[self]


_GRPC_CODES = {
    Code.CANCELED: grpc.StatusCode.CANCELLED,
    Code.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    Code.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    Code.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Code.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    Code.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Code.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    Code.UNIMPLEMENTED: grpc.StatusCode.UNIMPLEMENTED,
    Code.INTERNAL: grpc.StatusCode.INTERNAL,
    Code.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Code.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
}


class PluginError(Exception):
    """A typed plugin error; the Python twin of Go's ``sdk.Error``.

    Args:
        code: what kind of failure this is (decides retries and fallbacks).
        message: human-readable text; it reaches the host's log.
        retry_after: the provider's retry hint in seconds, mostly for
            ``RESOURCE_EXHAUSTED``; ``None`` if there is none.
        details: small key/value facts, e.g. ``{"field": "voice"}``.

    The exception's ``__cause__`` does not cross the process boundary, as
    Go's wrapped ``Err`` does not; put what matters into the message.
    """

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        retry_after: Optional[float] = None,
        details: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__(f"{Code(code).value}: {message}")
        self.code = Code(code)
        self.message = message
        self.retry_after = retry_after
        self.details = dict(details or {})


def invalid_field(field: str, message: str) -> PluginError:
    """Returns an ``INVALID_ARGUMENT`` error naming a bad setting (Go's ``sdk.InvalidField``)."""
    return PluginError(Code.INVALID_ARGUMENT, f"{field}: {message}", details={"field": field})


def _as_plugin_error(exc: BaseException) -> PluginError:
    """Maps any exception the way Go's toStatus maps any error."""
    if isinstance(exc, PluginError):
        return exc
    if isinstance(exc, asyncio.CancelledError):
        return PluginError(Code.CANCELED, "context canceled")
    if isinstance(exc, TimeoutError):
        return PluginError(Code.DEADLINE_EXCEEDED, str(exc) or "deadline exceeded")
    return PluginError(Code.INTERNAL, f"{type(exc).__name__}: {exc}")


def status_of(exc: BaseException) -> Tuple[grpc.StatusCode, str, Tuple[Tuple[str, bytes], ...]]:
    """Returns the gRPC status code, message and trailing metadata for exc.

    A :class:`PluginError` keeps its code, message, details and retry hint;
    ``asyncio.CancelledError`` becomes ``canceled``, ``TimeoutError``
    ``deadline_exceeded``, anything else ``internal`` with the exception's
    type and text.
    """
    err = _as_plugin_error(exc)
    detail = plugin_pb2.ErrorDetail(
        code=err.code.value,
        message=err.message,
        details=err.details,
        retry_after_ms=round(err.retry_after * _MS_PER_SECOND) if err.retry_after else 0,
    )
    status = wire_pb2.Status(
        code=err.code.grpc_code.value[0],
        message=err.message,
        details=[wire_pb2.Any(type_url=_ERROR_DETAIL_TYPE_URL, value=detail.SerializeToString())],
    )
    return err.code.grpc_code, err.message, ((STATUS_DETAILS_KEY, status.SerializeToString()),)
