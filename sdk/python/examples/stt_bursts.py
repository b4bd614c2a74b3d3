#!/usr/bin/python3
"""stt-bursts-py: a Parley STT plugin that counts bursts of sound.

Not speech recognition: it measures the energy of every 20 ms frame and
counts runs of loud frames (a crude stand-in for words), so the transcript
of an utterance reads like "3 bursts". It shows the whole STT contract:
audio in, partials while it listens, a final transcript per flush.
"""

import math
import struct
import sys
from pathlib import Path
from typing import Any, AsyncIterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the SDK beside this file

from parley_plugin import (  # noqa: E402
    FLUSH, STT, AudioFormat, Info, Kind, STTConfig, STTInput, TranscriptEvent, invalid_field, serve, strict_settings,
)

DEFAULTS: dict[str, Any] = {"threshold_db": -35.0, "min_burst_ms": 60}
FRAME_S = 0.02
FULL_SCALE = 32768.0


def frame_db(frame: bytes) -> float:
    """RMS level of PCM16LE samples in dB relative to full scale."""
    samples = struct.unpack(f"<{len(frame) // 2}h", frame)
    rms = math.sqrt(sum(s * s for s in samples) / max(len(samples), 1)) / FULL_SCALE
    return 20 * math.log10(rms) if rms > 0 else -120.0


class BurstSTT(STT):
    def __init__(self) -> None:
        self.settings = dict(DEFAULTS)

    async def info(self) -> Info:
        return Info("stt-bursts-py", "1.0.0", Kind.STT, audio_formats=[AudioFormat(16000)])

    async def configure(self, settings: dict[str, Any]) -> None:
        s = strict_settings(settings, DEFAULTS)
        if not -90 <= s["threshold_db"] <= 0:
            raise invalid_field("threshold_db", f"must be -90..0, got {s['threshold_db']}")
        if not 20 <= s["min_burst_ms"] <= 2000:
            raise invalid_field("min_burst_ms", f"must be 20..2000, got {s['min_burst_ms']}")
        self.settings = s

    async def transcribe(self, config: STTConfig, inputs: AsyncIterator[STTInput]) -> AsyncIterator[TranscriptEvent]:
        s, frame_bytes = self.settings, int(config.sample_rate * FRAME_S) * 2
        min_frames = max(1, round(s["min_burst_ms"] / 1000 / FRAME_S))
        pending, frames, start, bursts, run = b"", 0, 0, 0, 0

        def final() -> TranscriptEvent:
            return TranscriptEvent(f"{bursts} bursts", True, 0.0, start * FRAME_S, frames * FRAME_S)

        async for item in inputs:
            if item is FLUSH:
                if bursts:
                    yield final()
                start, bursts, run = frames, 0, 0
                continue
            pending += item
            while len(pending) >= frame_bytes:
                frame, pending = pending[:frame_bytes], pending[frame_bytes:]
                frames += 1
                run = run + 1 if frame_db(frame) >= s["threshold_db"] else 0
                if run == min_frames:  # a new burst is long enough to count
                    bursts += 1
                    if config.interim_results:
                        yield TranscriptEvent(f"{bursts} bursts", False, 0.0, start * FRAME_S, frames * FRAME_S)
        if bursts:
            yield final()


if __name__ == "__main__":
    serve(stt=BurstSTT())
