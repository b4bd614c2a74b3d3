"""The parley.v1 gRPC services: protobuf <-> SDK types and the stream pumps.

This is the Python twin of sdk/grpc_*.go on the plugin side: bidi streams
start with a config message, ``flush`` is a message, the end of input is
the host's half-close, and errors become statuses with an ErrorDetail.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, NoReturn, Optional, TypeVar

from grpc import aio

from parley_plugin.errors import Code, PluginError, invalid_field, status_of
from parley_plugin.plugin import LLM, STT, TTS, Plugin
from parley_plugin.types import (
    FLUSH,
    AudioChunk,
    Done,
    Encoding,
    GenerateRequest,
    Info,
    Kind,
    Message,
    Role,
    STTConfig,
    STTInput,
    StopReason,
    Tool,
    ToolCall,
    TTSConfig,
    TTSInput,
    TranscriptEvent,
)
from parley_plugin._proto.parley.v1 import llm_pb2, llm_pb2_grpc, plugin_pb2, stt_pb2, stt_pb2_grpc, tts_pb2, tts_pb2_grpc

#: The wire protocol version this SDK speaks (Go's sdk.ProtocolVersion).
PROTOCOL_VERSION = 1

_US_PER_SECOND = 1_000_000

_KINDS = {Kind.STT: plugin_pb2.PLUGIN_KIND_STT, Kind.LLM: plugin_pb2.PLUGIN_KIND_LLM, Kind.TTS: plugin_pb2.PLUGIN_KIND_TTS}
_ROLES = {
    llm_pb2.ROLE_SYSTEM: Role.SYSTEM,
    llm_pb2.ROLE_USER: Role.USER,
    llm_pb2.ROLE_ASSISTANT: Role.ASSISTANT,
    llm_pb2.ROLE_TOOL: Role.TOOL,
}
_STOP_REASONS = {
    StopReason.END_TURN: llm_pb2.STOP_REASON_END_TURN,
    StopReason.TOOL_USE: llm_pb2.STOP_REASON_TOOL_USE,
    StopReason.MAX_TOKENS: llm_pb2.STOP_REASON_MAX_TOKENS,
    StopReason.OTHER: llm_pb2.STOP_REASON_OTHER,
}

T = TypeVar("T")


async def _abort(context: aio.ServicerContext, exc: BaseException) -> NoReturn:
    code, message, trailer = status_of(exc)
    await context.abort(code, message, trailing_metadata=trailer)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


async def _call(context: aio.ServicerContext, fn: Callable[[], Awaitable[T]]) -> T:
    """Awaits fn(); a failure becomes the RPC's status. Cancellation propagates."""
    try:
        return await fn()
    except aio.AbortError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure must reach the host as a status
        await _abort(context, exc)


def _encoding(e: int) -> Optional[Encoding]:
    return Encoding.PCM16LE if e == plugin_pb2.AUDIO_ENCODING_PCM16LE else None


def info_to_pb(info: Info) -> plugin_pb2.InfoResponse:
    """Converts Info; an encoding other than PCM16LE is INVALID_ARGUMENT."""
    out = plugin_pb2.InfoResponse(
        name=info.name,
        version=info.version,
        kind=_KINDS.get(Kind(info.kind), plugin_pb2.PLUGIN_KIND_UNSPECIFIED),
        capabilities=list(info.capabilities),
        protocol_version=PROTOCOL_VERSION,
    )
    for f in info.audio_formats:
        if Encoding(f.encoding) is not Encoding.PCM16LE:
            raise invalid_field("encoding", f"unsupported encoding {f.encoding!r}")
        out.audio_formats.append(
            plugin_pb2.AudioFormat(encoding=plugin_pb2.AUDIO_ENCODING_PCM16LE, sample_rate_hz=f.sample_rate, channels=f.channels)
        )
    return out


def settings_from_pb(raw: bytes) -> Dict[str, Any]:
    """Decodes Configure's JSON; anything but an object is INVALID_ARGUMENT."""
    try:
        settings = json.loads(raw or b"{}")
    except ValueError as exc:
        raise PluginError(Code.INVALID_ARGUMENT, f"settings: {exc}") from exc
    if not isinstance(settings, dict):
        raise PluginError(Code.INVALID_ARGUMENT, f"settings: want a JSON object, got {type(settings).__name__}")
    return settings


def _json_object(text: str, what: str) -> Dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise invalid_field(what, f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise invalid_field(what, "not a JSON object")
    return value


def generate_request_from_pb(req: llm_pb2.GenerateRequest) -> GenerateRequest:
    """Converts a GenerateRequest; an unknown role is INVALID_ARGUMENT."""
    messages: List[Message] = []
    for m in req.messages:
        if m.role not in _ROLES:
            raise invalid_field("role", f"unknown role {m.role}")
        calls = [ToolCall(c.id, c.name, _json_object(c.arguments_json, "arguments")) for c in m.tool_calls]
        messages.append(Message(_ROLES[m.role], m.content, calls, m.tool_call_id, m.is_error))
    tools = [Tool(t.name, t.description, _json_object(t.parameters_json_schema, "parameters")) for t in req.tools]
    temperature = req.temperature if req.HasField("temperature") else None
    return GenerateRequest(messages, tools, req.max_tokens, temperature)


def event_to_pb(ev: Any) -> llm_pb2.GenerateResponse:
    """Converts one yielded generation event (str, ToolCall or Done)."""
    if isinstance(ev, str):
        if not ev:
            raise PluginError(Code.INTERNAL, "empty generate event: a text delta must not be empty")
        return llm_pb2.GenerateResponse(text_delta=ev)
    if isinstance(ev, ToolCall):
        call = llm_pb2.ToolCall(id=ev.id, name=ev.name, arguments_json=json.dumps(ev.arguments))
        return llm_pb2.GenerateResponse(tool_call=call)
    if isinstance(ev, Done):
        usage = llm_pb2.Usage(input_tokens=ev.usage.input_tokens, output_tokens=ev.usage.output_tokens)
        return llm_pb2.GenerateResponse(done=llm_pb2.Done(stop_reason=_STOP_REASONS[StopReason(ev.stop_reason)], usage=usage))
    raise PluginError(Code.INTERNAL, f"invalid generate event {type(ev).__name__}: yield str, ToolCall or Done")


class _Base:
    """Info and Configure, shared by the three services."""

    def __init__(self, impl: Plugin, service: str) -> None:
        self.impl = impl
        self.service = service

    async def Info(self, request: plugin_pb2.InfoRequest, context: aio.ServicerContext) -> plugin_pb2.InfoResponse:
        async def run() -> plugin_pb2.InfoResponse:
            return info_to_pb(await self.impl.info())

        return await _call(context, run)

    async def Configure(self, request: plugin_pb2.ConfigureRequest, context: aio.ServicerContext) -> plugin_pb2.ConfigureResponse:
        async def run() -> plugin_pb2.ConfigureResponse:
            await self.impl.configure(settings_from_pb(request.settings_json))
            return plugin_pb2.ConfigureResponse()

        return await _call(context, run)

    async def _first_config(self, requests: AsyncIterator[Any], context: aio.ServicerContext) -> Any:
        """Reads a bidi stream's first message, which must carry the config."""
        first = None
        with contextlib.suppress(StopAsyncIteration):
            first = await requests.__anext__()
        if first is None or first.WhichOneof("msg") != "config":
            msg = f"{self.service}: the first message of the stream must carry the config"
            await _abort(context, PluginError(Code.INVALID_ARGUMENT, msg))
        return first.config

    async def _inputs(self, requests: AsyncIterator[Any], payload: str) -> AsyncIterator[Any]:
        """The inputs after the config: payload values and FLUSH, until the half-close."""
        async for req in requests:
            which = req.WhichOneof("msg")
            if which == payload:
                yield getattr(req, payload)
            elif which == "flush":
                yield FLUSH
            elif which == "config":
                raise PluginError(Code.INVALID_ARGUMENT, f"{self.service}: config may only be sent first")
            else:
                raise PluginError(Code.INVALID_ARGUMENT, f"{self.service}: empty input message")

    async def _stream(self, outputs: AsyncIterator[T], context: aio.ServicerContext) -> AsyncIterator[T]:
        """Yields the implementation's outputs; its failure becomes the status."""
        try:
            async with contextlib.aclosing(outputs):  # type: ignore[type-var]
                async for out in outputs:
                    yield out
        except aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure must reach the host as a status
            await _abort(context, exc)


class STTService(_Base, stt_pb2_grpc.STTServicer):
    """parley.v1.STT over an :class:`~parley_plugin.STT`."""

    def __init__(self, impl: STT) -> None:
        super().__init__(impl, "stt")
        self.stt = impl

    async def Transcribe(self, requests: AsyncIterator[stt_pb2.TranscribeRequest], context: aio.ServicerContext) -> AsyncIterator[stt_pb2.TranscribeResponse]:
        requests = requests.__aiter__()
        c = await self._first_config(requests, context)
        cfg = STTConfig(c.sample_rate_hz, _encoding(c.encoding), c.language, c.interim_results, c.session_id)
        inputs: AsyncIterator[STTInput] = self._inputs(requests, "audio")
        async for ev in self._stream(self.stt.transcribe(cfg, inputs), context):
            if not isinstance(ev, TranscriptEvent):
                await _abort(context, PluginError(Code.INTERNAL, f"transcribe yielded {type(ev).__name__}, want TranscriptEvent"))
            yield stt_pb2.TranscribeResponse(
                text=ev.text,
                final=ev.final,
                confidence=ev.confidence,
                start_offset_us=round(ev.start * _US_PER_SECOND),
                end_offset_us=round(ev.end * _US_PER_SECOND),
            )


class TTSService(_Base, tts_pb2_grpc.TTSServicer):
    """parley.v1.TTS over a :class:`~parley_plugin.TTS`."""

    def __init__(self, impl: TTS) -> None:
        super().__init__(impl, "tts")
        self.tts = impl

    async def Synthesize(self, requests: AsyncIterator[tts_pb2.SynthesizeRequest], context: aio.ServicerContext) -> AsyncIterator[tts_pb2.SynthesizeResponse]:
        requests = requests.__aiter__()
        c = await self._first_config(requests, context)
        cfg = TTSConfig(c.sample_rate_hz, c.voice, _encoding(c.encoding), c.speed)
        inputs: AsyncIterator[TTSInput] = self._inputs(requests, "text")
        async for chunk in self._stream(self.tts.synthesize(cfg, inputs), context):
            if not isinstance(chunk, AudioChunk):
                await _abort(context, PluginError(Code.INTERNAL, f"synthesize yielded {type(chunk).__name__}, want AudioChunk"))
            if len(chunk.pcm) % 2:
                await _abort(context, PluginError(Code.INTERNAL, f"audio chunk of {len(chunk.pcm)} bytes is not whole PCM16 samples"))
            yield tts_pb2.SynthesizeResponse(
                audio=chunk.pcm, sample_rate_hz=chunk.sample_rate, text_start=chunk.text_start, text_end=chunk.text_end
            )


class LLMService(_Base, llm_pb2_grpc.LLMServicer):
    """parley.v1.LLM over an :class:`~parley_plugin.LLM`."""

    def __init__(self, impl: LLM) -> None:
        super().__init__(impl, "llm")
        self.llm = impl

    async def Generate(self, request: llm_pb2.GenerateRequest, context: aio.ServicerContext) -> AsyncIterator[llm_pb2.GenerateResponse]:
        try:
            req = generate_request_from_pb(request)
        except PluginError as exc:
            await _abort(context, exc)
        called, done = False, False
        async for ev in self._stream(self.llm.generate(req), context):
            if done:
                await _abort(context, PluginError(Code.INTERNAL, "generate yielded an event after Done"))
            try:
                resp = event_to_pb(ev)
            except PluginError as exc:
                await _abort(context, exc)
            called = called or isinstance(ev, ToolCall)
            done = isinstance(ev, Done)
            yield resp
        if not done:
            reason = StopReason.TOOL_USE if called else StopReason.END_TURN
            yield event_to_pb(Done(reason))


def register(server: aio.Server, impl: Plugin) -> str:
    """Registers impl's service on server and returns its full service name."""
    if isinstance(impl, STT):
        stt_pb2_grpc.add_STTServicer_to_server(STTService(impl), server)  # type: ignore[no-untyped-call]
        return "parley.v1.STT"
    if isinstance(impl, LLM):
        llm_pb2_grpc.add_LLMServicer_to_server(LLMService(impl), server)  # type: ignore[no-untyped-call]
        return "parley.v1.LLM"
    if isinstance(impl, TTS):
        tts_pb2_grpc.add_TTSServicer_to_server(TTSService(impl), server)  # type: ignore[no-untyped-call]
        return "parley.v1.TTS"
    raise TypeError(f"{type(impl).__name__} is not an STT, LLM or TTS")

