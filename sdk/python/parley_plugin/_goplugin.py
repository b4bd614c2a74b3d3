"""The services go-plugin's host expects beside the plugin's own.

- ``grpc.health.v1.Health``: ``Check`` answers SERVING for "" and "plugin"
  (the service name go-plugin and Parley's supervisor ping), NOT_FOUND for
  any other name, as grpc-go's health server does.
- ``plugin.GRPCController``: ``Shutdown`` is how the host asks the plugin to
  exit when it stops it; it triggers the graceful stop.
- ``plugin.GRPCStdio``: ``StreamStdio`` is opened by the host at start. This
  SDK sends ``print()`` output to the log on stderr instead (the host
  re-logs it with the plugin's name), so the stream carries no data; it
  stays open until the plugin stops, as a Go plugin's does.
- ``plugin.GRPCBroker``: ``StartStream`` is opened by the host at start for
  plugins that dial back extra services. Parley plugins use none, so the
  stream is held open and what the host announces on it is not used.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Callable

import grpc
from grpc import aio

from parley_plugin._proto import wire_pb2

#: The health service name go-plugin's host checks.
PLUGIN_HEALTH_SERVICE = "plugin"


class _Handlers:
    def __init__(self, on_shutdown: Callable[[], None], stopping: asyncio.Event) -> None:
        self.on_shutdown = on_shutdown
        self.stopping = stopping

    async def check(self, request: wire_pb2.HealthCheckRequest, context: aio.ServicerContext) -> wire_pb2.HealthCheckResponse:
        if request.service not in ("", PLUGIN_HEALTH_SERVICE):
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        status = wire_pb2.HealthCheckResponse.NOT_SERVING if self.stopping.is_set() else wire_pb2.HealthCheckResponse.SERVING
        return wire_pb2.HealthCheckResponse(status=status)

    async def shutdown(self, request: wire_pb2.Empty, context: aio.ServicerContext) -> wire_pb2.Empty:
        self.on_shutdown()
        return wire_pb2.Empty()

    async def stream_stdio(self, request: wire_pb2.Empty, context: aio.ServicerContext) -> AsyncIterator[wire_pb2.StdioData]:
        await self.stopping.wait()
        return
        yield  # an async generator that ends without data

    async def start_stream(self, requests: AsyncIterator[wire_pb2.ConnInfo], context: aio.ServicerContext) -> AsyncIterator[wire_pb2.ConnInfo]:
        async for _ in requests:
            pass
        return
        yield  # an async generator that ends without data


def register(server: aio.Server, on_shutdown: Callable[[], None], stopping: asyncio.Event) -> None:
    """Registers the health, controller, stdio and broker services on server."""
    h = _Handlers(on_shutdown, stopping)
    empty = wire_pb2.Empty
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "grpc.health.v1.Health",
                {
                    "Check": grpc.unary_unary_rpc_method_handler(
                        h.check,
                        request_deserializer=wire_pb2.HealthCheckRequest.FromString,
                        response_serializer=wire_pb2.HealthCheckResponse.SerializeToString,
                    )
                },
            ),
            grpc.method_handlers_generic_handler(
                "plugin.GRPCController",
                {
                    "Shutdown": grpc.unary_unary_rpc_method_handler(
                        h.shutdown, request_deserializer=empty.FromString, response_serializer=empty.SerializeToString
                    )
                },
            ),
            grpc.method_handlers_generic_handler(
                "plugin.GRPCStdio",
                {
                    "StreamStdio": grpc.unary_stream_rpc_method_handler(
                        h.stream_stdio,
                        request_deserializer=empty.FromString,
                        response_serializer=wire_pb2.StdioData.SerializeToString,
                    )
                },
            ),
            grpc.method_handlers_generic_handler(
                "plugin.GRPCBroker",
                {
                    "StartStream": grpc.stream_stream_rpc_method_handler(
                        h.start_stream,
                        request_deserializer=wire_pb2.ConnInfo.FromString,
                        response_serializer=wire_pb2.ConnInfo.SerializeToString,
                    )
                },
            ),
        )
    )
