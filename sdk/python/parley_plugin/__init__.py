"""Parley plugin SDK for Python.

Implement one of :class:`STT`, :class:`LLM` or :class:`TTS` and call
:func:`serve` from ``__main__``; the Parley server starts the process and
talks to it over gRPC exactly as it talks to a Go plugin.
"""

from parley_plugin.errors import Code, PluginError, invalid_field
from parley_plugin.plugin import LLM, STT, TTS, Plugin, strict_settings
from parley_plugin.serve import PROTOCOL_VERSION, serve
from parley_plugin.types import (
    FLUSH,
    AudioChunk,
    AudioFormat,
    Done,
    Encoding,
    Flush,
    GenerateEvent,
    GenerateRequest,
    Info,
    Kind,
    Message,
    Role,
    STTConfig,
    STTInput,
    StopReason,
    TTSConfig,
    TTSInput,
    Tool,
    ToolCall,
    TranscriptEvent,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "AudioChunk",
    "AudioFormat",
    "Code",
    "Done",
    "Encoding",
    "FLUSH",
    "Flush",
    "GenerateEvent",
    "GenerateRequest",
    "Info",
    "Kind",
    "LLM",
    "Message",
    "PROTOCOL_VERSION",
    "Plugin",
    "PluginError",
    "Role",
    "STT",
    "STTConfig",
    "STTInput",
    "StopReason",
    "TTS",
    "TTSConfig",
    "TTSInput",
    "Tool",
    "ToolCall",
    "TranscriptEvent",
    "Usage",
    "invalid_field",
    "serve",
    "strict_settings",
]
