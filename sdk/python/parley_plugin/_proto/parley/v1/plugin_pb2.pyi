from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

AUDIO_ENCODING_PCM16LE: AudioEncoding
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
DESCRIPTOR: _descriptor.FileDescriptor
PLUGIN_KIND_LLM: PluginKind
PLUGIN_KIND_STT: PluginKind
PLUGIN_KIND_TTS: PluginKind
PLUGIN_KIND_UNSPECIFIED: PluginKind

class AudioFormat(_message.Message):
    __slots__ = ["channels", "encoding", "sample_rate_hz"]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    channels: int
    encoding: AudioEncoding
    sample_rate_hz: int
    def __init__(self, encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., channels: _Optional[int] = ...) -> None: ...

class ConfigureRequest(_message.Message):
    __slots__ = ["settings_json"]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    settings_json: bytes
    def __init__(self, settings_json: _Optional[bytes] = ...) -> None: ...

class ConfigureResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ["code", "details", "message", "retry_after_ms"]
    class DetailsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    code: str
    details: _containers.ScalarMap[str, str]
    message: str
    retry_after_ms: int
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., retry_after_ms: _Optional[int] = ...) -> None: ...

class Flush(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ["audio_formats", "capabilities", "kind", "name", "protocol_version", "version"]
    AUDIO_FORMATS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    audio_formats: _containers.RepeatedCompositeFieldContainer[AudioFormat]
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    kind: PluginKind
    name: str
    protocol_version: int
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., kind: _Optional[_Union[PluginKind, str]] = ..., capabilities: _Optional[_Iterable[str]] = ..., audio_formats: _Optional[_Iterable[_Union[AudioFormat, _Mapping]]] = ..., protocol_version: _Optional[int] = ...) -> None: ...

class PluginKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
