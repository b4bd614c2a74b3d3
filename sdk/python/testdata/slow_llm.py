#!/usr/bin/python3
"""An LLM test plugin that yields one delta and then waits forever, logging
when the host's cancellation reaches it and when its clean-up ran."""

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any, AsyncIterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parley_plugin import LLM, GenerateEvent, GenerateRequest, Info, Kind, serve  # noqa: E402

log = logging.getLogger("slow")


class SlowLLM(LLM):
    async def info(self) -> Info:
        return Info("llm-slow", "0.0.1", Kind.LLM)

    async def configure(self, settings: dict[str, Any]) -> None:
        pass

    async def generate(self, request: GenerateRequest) -> AsyncIterator[GenerateEvent]:
        # The yield is inside the try: a cancellation that comes while the
        # generator is still suspended there (before the server asked for
        # the next item) closes it at the yield (GeneratorExit).
        try:
            yield "thinking"
            await asyncio.sleep(3600)
        except (asyncio.CancelledError, GeneratorExit):
            log.warning("generation cancelled", extra={"messages": len(request.messages)})
            raise
        finally:
            print("clean-up ran")


if __name__ == "__main__":
    serve(llm=SlowLLM())
