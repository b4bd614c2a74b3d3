from parley_plugin._proto.parley.v1 import plugin_pb2 as _plugin_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SynthesizeRequest(_message.Message):
    __slots__ = ["config", "flush", "text"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    config: TTSConfig
    flush: _plugin_pb2.Flush
    text: str
    def __init__(self, config: _Optional[_Union[TTSConfig, _Mapping]] = ..., text: _Optional[str] = ..., flush: _Optional[_Union[_plugin_pb2.Flush, _Mapping]] = ...) -> None: ...

class SynthesizeResponse(_message.Message):
    __slots__ = ["audio", "sample_rate_hz", "text_end", "text_start"]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    TEXT_END_FIELD_NUMBER: _ClassVar[int]
    TEXT_START_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    sample_rate_hz: int
    text_end: int
    text_start: int
    def __init__(self, audio: _Optional[bytes] = ..., sample_rate_hz: _Optional[int] = ..., text_start: _Optional[int] = ..., text_end: _Optional[int] = ...) -> None: ...

class TTSConfig(_message.Message):
    __slots__ = ["encoding", "sample_rate_hz", "speed", "voice"]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    encoding: _plugin_pb2.AudioEncoding
    sample_rate_hz: int
    speed: float
    voice: str
    def __init__(self, voice: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ..., encoding: _Optional[_Union[_plugin_pb2.AudioEncoding, str]] = ..., speed: _Optional[float] = ...) -> None: ...
