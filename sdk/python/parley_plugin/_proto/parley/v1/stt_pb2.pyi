from parley_plugin._proto.parley.v1 import plugin_pb2 as _plugin_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class STTConfig(_message.Message):
    __slots__ = ["encoding", "interim_results", "language", "sample_rate_hz", "session_id"]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    encoding: _plugin_pb2.AudioEncoding
    interim_results: bool
    language: str
    sample_rate_hz: int
    session_id: str
    def __init__(self, sample_rate_hz: _Optional[int] = ..., encoding: _Optional[_Union[_plugin_pb2.AudioEncoding, str]] = ..., language: _Optional[str] = ..., interim_results: bool = ..., session_id: _Optional[str] = ...) -> None: ...

class TranscribeRequest(_message.Message):
    __slots__ = ["audio", "config", "flush"]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    config: STTConfig
    flush: _plugin_pb2.Flush
    def __init__(self, config: _Optional[_Union[STTConfig, _Mapping]] = ..., audio: _Optional[bytes] = ..., flush: _Optional[_Union[_plugin_pb2.Flush, _Mapping]] = ...) -> None: ...

class TranscribeResponse(_message.Message):
    __slots__ = ["confidence", "end_offset_us", "final", "start_offset_us", "text"]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_US_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_US_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    confidence: float
    end_offset_us: int
    final: bool
    start_offset_us: int
    text: str
    def __init__(self, text: _Optional[str] = ..., final: bool = ..., confidence: _Optional[float] = ..., start_offset_us: _Optional[int] = ..., end_offset_us: _Optional[int] = ...) -> None: ...
