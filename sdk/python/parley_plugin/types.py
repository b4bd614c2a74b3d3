"""Plain data types of the plugin contract, mirroring Go's sdk package."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Final, List, Literal, Optional, Union

__all__ = [
    "AudioChunk",
    "AudioFormat",
    "Done",
    "Encoding",
    "FLUSH",
    "Flush",
    "GenerateEvent",
    "GenerateRequest",
    "Info",
    "Kind",
    "Message",
    "Role",
    "STTConfig",
    "STTInput",
    "StopReason",
    "TTSConfig",
    "TTSInput",
    "Tool",
    "ToolCall",
    "TranscriptEvent",
    "Usage",
]


class Kind(str, enum.Enum):
    """Which of the three plugin roles a plugin plays."""

    STT = "stt"
    LLM = "llm"
    TTS = "tts"


class Encoding(str, enum.Enum):
    """An audio sample encoding. Parley exchanges only PCM16LE with plugins."""

    PCM16LE = "pcm16le"


@dataclass(frozen=True)
class AudioFormat:
    """A stream of audio a plugin accepts or produces."""

    sample_rate: int
    encoding: Encoding = Encoding.PCM16LE
    channels: int = 1


@dataclass(frozen=True)
class Info:
    """Who a plugin is and what it can do."""

    name: str
    version: str
    kind: Kind
    capabilities: List[str] = field(default_factory=list)
    audio_formats: List[AudioFormat] = field(default_factory=list)


class Flush(enum.Enum):
    """Marks a point in an input stream: STT finalizes the utterance, TTS speaks what it has."""

    FLUSH = "flush"

    def __repr__(self) -> str:
        return "FLUSH"


#: The one Flush marker; compare with ``item is FLUSH`` (type checkers narrow on it).
FLUSH: Final = Flush.FLUSH


@dataclass(frozen=True)
class STTConfig:
    """Opens a recognition stream. ``encoding`` is ``None`` when the host left it unset."""

    sample_rate: int
    encoding: Optional[Encoding] = Encoding.PCM16LE
    language: str = ""
    interim_results: bool = False
    #: The conversation the stream belongs to, the same for every stream of one
    #: session (the host opens one per speech segment); opaque, "" when unknown.
    session_id: str = ""


#: What an STT stream receives: PCM16LE audio (whole samples) or FLUSH.
STTInput = Union[bytes, Literal[Flush.FLUSH]]


@dataclass(frozen=True)
class TranscriptEvent:
    """A partial (``final=False``) or final transcript.

    ``start`` and ``end`` are offsets in seconds from the start of the
    stream's audio; ``confidence`` is 0..1.
    """

    text: str
    final: bool = True
    confidence: float = 0.0
    start: float = 0.0
    end: float = 0.0


class Role(str, enum.Enum):
    """The author of a conversation message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


@dataclass(frozen=True)
class ToolCall:
    """A model's request to run a tool; ``arguments`` is the JSON object as a dict."""

    id: str
    name: str
    arguments: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """One turn of a conversation.

    An assistant message may carry ``tool_calls``; a tool message answers the
    call named by ``tool_call_id`` (``is_error`` when its content is an error report).
    """

    role: Role
    content: str = ""
    tool_calls: List[ToolCall] = field(default_factory=list)
    tool_call_id: str = ""
    is_error: bool = False


@dataclass(frozen=True)
class Tool:
    """A tool the model may call; ``parameters`` is a JSON Schema object as a dict."""

    name: str
    description: str = ""
    parameters: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenerateRequest:
    """Asks a model for the next assistant turn. ``temperature`` is ``None`` for the default."""

    messages: List[Message]
    tools: List[Tool] = field(default_factory=list)
    max_tokens: int = 0
    temperature: Optional[float] = None


class StopReason(str, enum.Enum):
    """Why a generation ended."""

    END_TURN = "end_turn"
    TOOL_USE = "tool_use"
    MAX_TOKENS = "max_tokens"
    OTHER = "other"


@dataclass(frozen=True)
class Usage:
    """Token counts of one generation."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Done:
    """Ends a generation; it is the last event."""

    stop_reason: StopReason
    usage: Usage = field(default_factory=Usage)


#: What an LLM generation yields: a text delta (``str``), a ToolCall or Done.
GenerateEvent = Union[str, ToolCall, Done]


@dataclass(frozen=True)
class TTSConfig:
    """Opens a synthesis stream. ``speed`` 0 means the plugin's default (1.0)."""

    sample_rate: int
    voice: str = ""
    encoding: Optional[Encoding] = Encoding.PCM16LE
    speed: float = 0.0


#: What a TTS stream receives: text appended to what came before, or FLUSH.
TTSInput = Union[str, Literal[Flush.FLUSH]]


@dataclass(frozen=True)
class AudioChunk:
    """Synthesized PCM16LE audio and the span of text it speaks.

    ``text_start``/``text_end`` are byte offsets (UTF-8) into all text sent on
    the stream, end exclusive.
    """

    pcm: bytes
    sample_rate: int
    text_start: int = 0
    text_end: int = 0
