"""Log lines the Parley host understands: slog-style JSON on stderr.

The host re-logs every stderr line of the form
``{"time": ..., "level": "INFO", "msg": ..., <fields>}`` at its own level
with the plugin's name (the same lines Go plugins write with
``sdk/pluginlog``); other lines arrive at Debug. :func:`serve` installs
:class:`JSONFormatter` on the root logger, so ``logging.getLogger(__name__)``
in a plugin just works: ``log.info("voice loaded", extra={"voice": "slt"})``.
Never log API keys or ``Authorization`` values.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
from typing import Any, Dict

__all__ = ["JSONFormatter", "LogWriter", "go_duration"]

_LEVELS = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN", logging.ERROR: "ERROR"}
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
_NS_PER_US, _NS_PER_MS, _NS_PER_S = 1_000, 1_000_000, 1_000_000_000
_S_PER_MIN, _S_PER_H = 60, 3600


def go_duration(d: datetime.timedelta) -> str:
    """Formats d like Go's time.Duration.String ("850ms", "1.5s", "2m3s"), as the host logs durations."""
    ns = (d.days * 86_400 + d.seconds) * _NS_PER_S + d.microseconds * _NS_PER_US
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns == 0:
        return "0s"
    if ns < _NS_PER_MS:
        return f"{sign}{ns / _NS_PER_US:g}µs"
    if ns < _NS_PER_S:
        return f"{sign}{ns / _NS_PER_MS:g}ms"
    seconds = ns / _NS_PER_S
    hours, rest = divmod(seconds, _S_PER_H)
    minutes, secs = divmod(rest, _S_PER_MIN)
    out = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{sign}{int(hours)}h{int(minutes)}m{out}"
    if minutes:
        return f"{sign}{int(minutes)}m{out}"
    return sign + out


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime.timedelta):
        return go_duration(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


class JSONFormatter(logging.Formatter):
    """Formats records as one slog-style JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        level = _LEVELS.get(record.levelno, "ERROR" if record.levelno > logging.ERROR else "INFO")
        out: Dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(),
            "level": level,
            "msg": record.getMessage(),
        }
        if record.name != "root":
            out["logger"] = record.name
        for k, v in record.__dict__.items():
            if k not in _RESERVED and not k.startswith("_"):
                out[k] = _jsonable(v)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class LogWriter(io.TextIOBase):
    """A text stream that logs every line written to it (``sys.stdout`` after the handshake)."""

    def __init__(self, logger: logging.Logger, stream: str) -> None:
        super().__init__()
        self._logger = logger
        self._stream = stream
        self._buf = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._buf += s
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            self._logger.info(line, extra={"stream": self._stream})
        return len(s)

    def flush(self) -> None:
        if self._buf:
            line, self._buf = self._buf, ""
            self._logger.info(line, extra={"stream": self._stream})
