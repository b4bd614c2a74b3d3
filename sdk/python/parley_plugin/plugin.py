"""Abstract base classes for the three plugin kinds (Go's sdk.STT, sdk.LLM, sdk.TTS).

Every method is a coroutine or an async generator running on the plugin's
event loop. A stream lives exactly as long as the host keeps it: when the
host cancels (barge-in, hang-up, a deadline), the task running the stream
is cancelled, so ``asyncio.CancelledError`` is raised at the await the
plugin is blocked in; clean up in ``finally`` and let it propagate. Raise
:class:`~parley_plugin.PluginError` for failures the host should classify;
any other exception reaches the host as ``internal``.

Blocking work (a CPU-bound engine, a synchronous HTTP client) must not run
on the event loop: wrap it in ``await asyncio.to_thread(...)``.
"""

from __future__ import annotations

import abc
from typing import Any, AsyncIterator, Dict, Mapping

from parley_plugin.errors import Code, PluginError, invalid_field
from parley_plugin.types import (
    AudioChunk,
    GenerateEvent,
    GenerateRequest,
    Info,
    Kind,
    STTConfig,
    STTInput,
    TTSConfig,
    TTSInput,
    TranscriptEvent,
)

__all__ = ["LLM", "Plugin", "STT", "TTS", "strict_settings"]


class Plugin(abc.ABC):
    """What every plugin implements besides its kind's streaming call."""

    #: The kind this base class serves; set by STT, LLM and TTS.
    kind: Kind

    @abc.abstractmethod
    async def info(self) -> Info:
        """Describes the plugin. It must be cheap and side-effect free."""

    @abc.abstractmethod
    async def configure(self, settings: Dict[str, Any]) -> None:
        """Applies the plugin's own settings (its ``config`` map in Parley's configuration).

        Reject unknown fields and bad values with ``invalid_field(...)``
        (``INVALID_ARGUMENT``); a rejected call must leave the previous
        settings in force. :func:`strict_settings` does the checking.
        """


class STT(Plugin):
    """A streaming speech-to-text plugin."""

    kind = Kind.STT

    @abc.abstractmethod
    def transcribe(self, config: STTConfig, inputs: AsyncIterator[STTInput]) -> AsyncIterator[TranscriptEvent]:
        """Recognizes one audio stream; write it as an ``async def`` with ``yield``.

        ``inputs`` yields PCM16LE audio chunks (``bytes``, whole samples) and
        ``FLUSH`` (end of utterance: yield a final transcript for the audio
        since the last flush); it ends when the host half-closes, after
        which pending audio is finalized and the generator returns.
        """


class LLM(Plugin):
    """A streaming language-model plugin."""

    kind = Kind.LLM

    @abc.abstractmethod
    def generate(self, request: GenerateRequest) -> AsyncIterator[GenerateEvent]:
        """Streams the next assistant turn; write it as an ``async def`` with ``yield``.

        Yield text deltas (``str``), :class:`~parley_plugin.ToolCall` and at
        most one :class:`~parley_plugin.Done`, last. Without a Done the SDK
        sends one (stop reason ``tool_use`` if a tool call was yielded,
        ``end_turn`` otherwise).
        """


class TTS(Plugin):
    """A streaming text-to-speech plugin."""

    kind = Kind.TTS

    @abc.abstractmethod
    def synthesize(self, config: TTSConfig, inputs: AsyncIterator[TTSInput]) -> AsyncIterator[AudioChunk]:
        """Speaks one text stream; write it as an ``async def`` with ``yield``.

        ``inputs`` yields text (``str``, appended to what came before, as an
        LLM produces it) and ``FLUSH`` (speak everything so far); it ends when
        the host half-closes, after which pending text is spoken. Yield audio
        as soon as it is ready, with the UTF-8 byte span of the text it speaks.
        """


def strict_settings(settings: Mapping[str, Any], defaults: Mapping[str, Any]) -> Dict[str, Any]:
    """Returns ``defaults`` updated with ``settings``, refusing what a typo would pass.

    Every key of ``settings`` must be a key of ``defaults``, and its value
    must have the default's type (an ``int`` is accepted where the default is
    a ``float``; ``bool`` is never taken for a number). Errors are
    ``INVALID_ARGUMENT`` naming the field, as the conformance suite expects.
    """
    out = dict(defaults)
    for key, value in settings.items():
        if key not in defaults:
            raise PluginError(Code.INVALID_ARGUMENT, f"settings: unknown field {key!r}", details={"field": key})
        want = type(defaults[key])
        ok = isinstance(value, want) and not (isinstance(value, bool) and want is not bool)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            raise invalid_field(key, f"must be {want.__name__}, got {type(value).__name__} {value!r}")
        out[key] = value
    return out
