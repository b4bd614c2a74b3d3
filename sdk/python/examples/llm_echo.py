#!/usr/bin/python3
"""llm-echo-py: a Parley LLM plugin that echoes, or makes one tool call.

Not a language model: three rules. Asked about the time while the host
offers a `get_current_time` tool, it calls that tool; given the tool's
result, it reads it out; anything else it echoes back word by word.
"""

import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the SDK beside this file

from parley_plugin import (  # noqa: E402
    LLM, Done, GenerateEvent, GenerateRequest, Info, Kind, Role, StopReason, ToolCall, Usage, serve, strict_settings,
)

DEFAULTS: dict[str, Any] = {"prefix": "You said:"}
TIME_TOOL = "get_current_time"
log = logging.getLogger("llm-echo-py")  # slog JSON on stderr: Parley re-logs it


class EchoLLM(LLM):
    def __init__(self) -> None:
        self.settings = dict(DEFAULTS)

    async def info(self) -> Info:
        return Info("llm-echo-py", "1.0.0", Kind.LLM, capabilities=["tools"])

    async def configure(self, settings: dict[str, Any]) -> None:
        self.settings = strict_settings(settings, DEFAULTS)

    async def generate(self, request: GenerateRequest) -> AsyncIterator[GenerateEvent]:
        last = request.messages[-1] if request.messages else None
        if last is None:
            yield Done(StopReason.END_TURN)
            return
        if last.role is Role.TOOL:
            try:
                result = json.loads(last.content)
            except ValueError:
                result = last.content
            if isinstance(result, dict):  # {"time": "...", "weekday": "..."} reads as "time ..., weekday ..."
                result = ", ".join(f"{k} {v}" for k, v in result.items())
            answer = f"The tool answered: {result}."
            if last.is_error:
                answer = "Sorry, the tool failed."
            for word in answer.split(" "):
                yield word + " "
            yield Done(StopReason.END_TURN, Usage(len(request.messages), len(answer.split())))
            return
        offered = {t.name for t in request.tools}
        if "time" in last.content.lower() and TIME_TOOL in offered:
            log.info("calling tool", extra={"tool": TIME_TOOL})
            yield ToolCall(f"call_{uuid.uuid4().hex[:16]}", TIME_TOOL, {})
            yield Done(StopReason.TOOL_USE)
            return
        words = f"{self.settings['prefix']} {last.content}".split()
        for i, word in enumerate(words):  # one delta per word, as a model streams
            yield word if i == 0 else " " + word
        yield Done(StopReason.END_TURN, Usage(len(request.messages), len(words)))


if __name__ == "__main__":
    serve(llm=EchoLLM())
