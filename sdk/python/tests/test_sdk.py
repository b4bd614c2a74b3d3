"""Unit tests of the parts of parley_plugin that need no host process."""

import datetime
import json
import logging
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

from parley_plugin import Code, Done, PluginError, StopReason, ToolCall, invalid_field, strict_settings  # noqa: E402
from parley_plugin._proto import wire_pb2  # noqa: E402
from parley_plugin._proto.parley.v1 import plugin_pb2  # noqa: E402
from parley_plugin._services import event_to_pb, settings_from_pb  # noqa: E402
from parley_plugin.errors import STATUS_DETAILS_KEY, status_of  # noqa: E402
from parley_plugin.log import JSONFormatter, go_duration  # noqa: E402
from parley_plugin.serve import negotiate  # noqa: E402

# The gRPC code numbers of sdk/grpc_errors.go's grpcCode, one per Code.
GO_MAPPING = {
    "canceled": 1, "invalid_argument": 3, "deadline_exceeded": 4, "not_found": 5, "permission_denied": 7,
    "resource_exhausted": 8, "failed_precondition": 9, "unimplemented": 12, "internal": 13,
    "unavailable": 14, "unauthenticated": 16,
}


def detail_of(trailer):
    (key, raw), = trailer
    assert key == STATUS_DETAILS_KEY
    status = wire_pb2.Status.FromString(raw)
    (any_detail,) = status.details
    assert any_detail.type_url == "type.googleapis.com/parley.v1.ErrorDetail"
    return status, plugin_pb2.ErrorDetail.FromString(any_detail.value)


class StatusTest(unittest.TestCase):
    def test_every_code_maps_as_in_go(self):
        self.assertEqual({c.value for c in Code}, set(GO_MAPPING))
        for code in Code:
            with self.subTest(code=code):
                grpc_code, message, trailer = status_of(PluginError(code, "m"))
                self.assertEqual(grpc_code.value[0], GO_MAPPING[code.value])
                status, detail = detail_of(trailer)
                self.assertEqual(status.code, GO_MAPPING[code.value])
                self.assertEqual((detail.code, detail.message, message), (code.value, "m", "m"))

    def test_details_and_retry_after(self):
        err = PluginError(Code.RESOURCE_EXHAUSTED, "slow down", retry_after=0.29, details={"provider": "x"})
        _, _, trailer = status_of(err)
        _, detail = detail_of(trailer)
        self.assertEqual(detail.retry_after_ms, 290)
        self.assertEqual(dict(detail.details), {"provider": "x"})

    def test_other_exceptions(self):
        import asyncio

        for exc, code in [
            (ValueError("bad"), grpc.StatusCode.INTERNAL),
            (asyncio.CancelledError(), grpc.StatusCode.CANCELLED),
            (TimeoutError(), grpc.StatusCode.DEADLINE_EXCEEDED),
        ]:
            with self.subTest(exc=exc):
                self.assertEqual(status_of(exc)[0], code)
        self.assertEqual(status_of(ValueError("bad"))[1], "ValueError: bad")

    def test_invalid_field(self):
        err = invalid_field("voice", "unknown")
        self.assertEqual((err.code, err.message, err.details), (Code.INVALID_ARGUMENT, "voice: unknown", {"field": "voice"}))


class NegotiateTest(unittest.TestCase):
    def test_versions(self):
        cases = [("1", 1), ("", 1), ("2,1", 1), ("3,2", 1), ("x,1", 1), (" 1 , 2", 1)]
        for offered, want in cases:
            with self.subTest(offered=offered):
                self.assertEqual(negotiate(offered), want)
        self.assertEqual(negotiate("1,2", supported=(1, 2)), 2)
        self.assertEqual(negotiate("1", supported=(1, 2)), 1)


class SettingsTest(unittest.TestCase):
    DEFAULTS = {"word_ms": 150, "pitch_hz": 440.0, "voice": "slt", "loud": False}

    def test_accepts_and_converts(self):
        got = strict_settings({"word_ms": 100, "pitch_hz": 880}, self.DEFAULTS)
        self.assertEqual(got, {"word_ms": 100, "pitch_hz": 880.0, "voice": "slt", "loud": False})

    def test_rejects(self):
        for settings, field in [
            ({"parley_conformance_unknown_field": True}, "parley_conformance_unknown_field"),
            ({"word_ms": "100"}, "word_ms"),
            ({"word_ms": True}, "word_ms"),
            ({"loud": 1}, "loud"),
        ]:
            with self.subTest(settings=settings):
                with self.assertRaises(PluginError) as cm:
                    strict_settings(settings, self.DEFAULTS)
                self.assertEqual(cm.exception.code, Code.INVALID_ARGUMENT)
                self.assertEqual(cm.exception.details, {"field": field})

    def test_settings_json(self):
        self.assertEqual(settings_from_pb(b""), {})
        self.assertEqual(settings_from_pb(b'{"a": 1}'), {"a": 1})
        for raw in (b"[1]", b"{", b'"x"'):
            with self.subTest(raw=raw):
                with self.assertRaises(PluginError) as cm:
                    settings_from_pb(raw)
                self.assertEqual(cm.exception.code, Code.INVALID_ARGUMENT)


class EventTest(unittest.TestCase):
    def test_events(self):
        self.assertEqual(event_to_pb("hi").text_delta, "hi")
        call = event_to_pb(ToolCall("c1", "calc", {"x": 1})).tool_call
        self.assertEqual((call.id, call.name, json.loads(call.arguments_json)), ("c1", "calc", {"x": 1}))
        self.assertTrue(event_to_pb(Done(StopReason.TOOL_USE)).HasField("done"))
        for bad in ("", 42, None):
            with self.subTest(bad=bad):
                with self.assertRaises(PluginError):
                    event_to_pb(bad)


class LogTest(unittest.TestCase):
    def test_go_durations(self):
        td = datetime.timedelta
        cases = [(td(0), "0s"), (td(milliseconds=850), "850ms"), (td(seconds=1.5), "1.5s"),
                 (td(seconds=10), "10s"), (td(minutes=2, seconds=3), "2m3s"), (td(hours=1), "1h0m0s"),
                 (td(microseconds=250), "250µs")]
        for d, want in cases:
            with self.subTest(d=d):
                self.assertEqual(go_duration(d), want)

    def test_slog_shape(self):
        rec = logging.LogRecord("vendor", logging.WARNING, __file__, 1, "voice %s missing", ("slt",), None)
        rec.took = datetime.timedelta(milliseconds=12)
        line = json.loads(JSONFormatter().format(rec))
        self.assertEqual(line["level"], "WARN")
        self.assertEqual(line["msg"], "voice slt missing")
        self.assertEqual(line["took"], "12ms")
        self.assertEqual(line["logger"], "vendor")
        self.assertIn("time", line)


if __name__ == "__main__":
    unittest.main()
