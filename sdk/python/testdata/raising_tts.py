#!/usr/bin/python3
"""A TTS test plugin that fails mid-stream: after its first chunk it raises
what the first word of the text names, so the host-side test can check how
each failure arrives."""

import sys
from pathlib import Path
from typing import Any, AsyncIterator, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parley_plugin import FLUSH, TTS, AudioChunk, AudioFormat, Code, Info, Kind, PluginError, TTSConfig, TTSInput, serve  # noqa: E402

FAILURES: dict[str, Callable[[], Exception]] = {
    "quota": lambda: PluginError(Code.RESOURCE_EXHAUSTED, "quota exceeded", retry_after=2.5, details={"provider": "fake"}),
    "down": lambda: PluginError(Code.UNAVAILABLE, "provider down"),
    "bug": lambda: RuntimeError("something broke"),
    "field": lambda: PluginError(Code.INVALID_ARGUMENT, "voice: unknown", details={"field": "voice"}),
}


class RaisingTTS(TTS):
    async def info(self) -> Info:
        return Info("tts-raising", "0.0.1", Kind.TTS, audio_formats=[AudioFormat(16000)])

    async def configure(self, settings: dict[str, Any]) -> None:
        pass

    async def synthesize(self, config: TTSConfig, inputs: AsyncIterator[TTSInput]) -> AsyncIterator[AudioChunk]:
        async for text in inputs:
            if text is FLUSH:
                continue
            yield AudioChunk(b"\x00\x00" * 160, config.sample_rate, 0, len(text.encode()))
            word = text.split()[0]
            if word.startswith("code="):  # any code by name: code=not_found
                raise PluginError(Code(word[len("code="):]), f"raised {word}")
            raise FAILURES[word]()


if __name__ == "__main__":
    serve(tts=RaisingTTS())
