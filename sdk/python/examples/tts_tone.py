#!/usr/bin/python3
"""tts-tone-py: a Parley TTS plugin that "speaks" every word as a short beep.

Not speech: a sine tone per word, so it needs no engine and no network. It
shows the whole TTS contract: streamed text in, audio out as soon as whole
words are there, text spans, flush, cancellation and strict settings.
"""

import math
import struct
import sys
from pathlib import Path
from typing import Any, AsyncIterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the SDK beside this file

from parley_plugin import (  # noqa: E402
    FLUSH, TTS, AudioChunk, AudioFormat, Info, Kind, TTSConfig, TTSInput, invalid_field, serve, strict_settings,
)

DEFAULTS: dict[str, Any] = {"word_ms": 150, "pitch_hz": 440.0}
AMPLITUDE = 32767 // 4  # a quarter of full scale


def beep(samples: int, rate: int, hz: float) -> bytes:
    """samples of a sine tone as PCM16LE."""
    return struct.pack(
        f"<{samples}h", *(int(AMPLITUDE * math.sin(2 * math.pi * hz * i / rate)) for i in range(samples))
    )


class ToneTTS(TTS):
    def __init__(self) -> None:
        self.settings = dict(DEFAULTS)

    async def info(self) -> Info:
        return Info("tts-tone-py", "1.0.0", Kind.TTS, audio_formats=[AudioFormat(16000)])

    async def configure(self, settings: dict[str, Any]) -> None:
        s = strict_settings(settings, DEFAULTS)
        if not 10 <= s["word_ms"] <= 1000:
            raise invalid_field("word_ms", f"must be 10..1000, got {s['word_ms']}")
        if not 50 <= s["pitch_hz"] <= 4000:
            raise invalid_field("pitch_hz", f"must be 50..4000, got {s['pitch_hz']}")
        self.settings = s  # only a valid set replaces the old one

    async def synthesize(self, config: TTSConfig, inputs: AsyncIterator[TTSInput]) -> AsyncIterator[AudioChunk]:
        if not 8000 <= config.sample_rate <= 48000:
            raise invalid_field("sample_rate", f"must be 8000..48000, got {config.sample_rate}")
        s, rate = self.settings, config.sample_rate
        text = b""  # UTF-8: spans are byte offsets
        spoken = 0

        def speak(up_to: int) -> AudioChunk:
            nonlocal spoken
            words = len(text[spoken:up_to].split())
            chunk = AudioChunk(beep(words * s["word_ms"] * rate // 1000, rate, s["pitch_hz"]), rate, spoken, up_to)
            spoken = up_to
            return chunk

        async for item in inputs:  # ends at the host's half-close; cancelled with the stream
            if item is FLUSH:
                up_to = len(text)
            else:
                text += item.encode()
                up_to = text.rfind(b" ") + 1  # whole words only
            if text[spoken:up_to].strip():  # a span of only spaces waits for words
                yield speak(up_to)
        if text[spoken:].strip():
            yield speak(len(text))


if __name__ == "__main__":
    serve(tts=ToneTTS())
