package ws_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// reservedCodes are documented codes no client action can produce today,
// with the reason; every other documented code must be produced below.
var reservedCodes = map[string]string{ //nolint:gochecknoglobals // test table.
	"internal":         "an unexpected server error (a bug): no input produces it on purpose",
	"recording_failed": "needs a failing disk under a recording server: produced in internal/recording (TestDiskFullMidCallFailsRecordingNotCall)",
}

// overloadedGuard is a memory guard that always reports overload.
type overloadedGuard struct{}

func (overloadedGuard) Overloaded() bool { return true }

// documentedCodes returns the codes of the protocol README's error table.
func documentedCodes(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../protocol/parleyv1/README.md")
	require.NoError(t, err)
	doc := string(raw)
	start := strings.Index(doc, "## `error` event codes")
	require.GreaterOrEqual(t, start, 0)
	doc = doc[start:]
	doc = doc[:strings.Index(doc, "## Close codes")]
	cell := regexp.MustCompile("`([a-z_]+)`")
	var codes []string
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			codes = append(codes, m[1])
		}
	}
	slices.Sort(codes)
	return codes
}

// schemaCodes returns the code enum of the error event's schema.
func schemaCodes(t *testing.T) []string {
	t.Helper()
	raw, err := parleyv1.Schemas.ReadFile("schema/server/error.json")
	require.NoError(t, err)
	var s struct {
		Properties struct {
			Code struct {
				Enum []string `json:"enum"`
			} `json:"code"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(raw, &s))
	codes := s.Properties.Code.Enum
	slices.Sort(codes)
	return codes
}

// TestEveryErrorCodeIsProduced: the README's table of error codes and the
// error event's schema list the same codes, and each one (but the reserved
// ones) is produced through a real WebSocket by the case of that name, with
// a non-empty message.
func TestEveryErrorCodeIsProduced(t *testing.T) {
	documented := documentedCodes(t)
	require.Equal(t, documented, schemaCodes(t), "README table and schema enum agree")

	errorOf := func(t *testing.T, llm *sessiontest.LLM, tune func(*harness), act func(c *client)) event {
		t.Helper()
		h := newHarness(t, llm, nil)
		if tune != nil {
			tune(h)
		}
		c := h.dial(true)
		c.t = t
		c.ready(nil)
		act(c)
		return c.expect(parleyv1.TypeError)
	}
	text := func(c *client) { c.sendJSON(map[string]any{"type": "input.text", "text": "hi"}) }
	bad := func(payload string) func(*testing.T) event {
		return func(t *testing.T) event {
			return errorOf(t, scripted(nil), nil, func(c *client) { c.sendRaw(websocket.MessageText, []byte(payload)) })
		}
	}
	reply := func(events []sdk.GenerateEvent, err error) *sessiontest.LLM {
		return &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) { return events, err }}
	}
	down := func() error {
		return &sdk.Error{Code: sdk.CodeUnavailable, Message: "read unix @->/tmp/plugin42: connection reset by peer"}
	}
	refused := func(code session.ErrorCode, tune func(*setup), before func(*harness)) func(*testing.T) event {
		return func(t *testing.T) event {
			h := newHarness(t, scripted(nil), tune)
			if before != nil {
				before(h)
			}
			refusal(t, h, code)
			return event{"code": string(code), "message": "refused"}
		}
	}
	producers := map[string]func(t *testing.T) event{
		"invalid_json":    bad("hello{"),
		"unknown_type":    bad(`{"type":"dance"}`),
		"invalid_message": bad(`{"type":"input.text","text":5}`),
		"odd_length_audio": func(t *testing.T) event {
			return errorOf(t, scripted(nil), nil, func(c *client) { c.sendRaw(websocket.MessageBinary, make([]byte, 641)) })
		},
		"message_too_large": func(t *testing.T) event {
			return errorOf(t, scripted(nil), nil, func(c *client) { c.sendRaw(websocket.MessageBinary, make([]byte, 8194)) })
		},
		"unsupported_sample_rate": bad(`{"type":"session.update","input_sample_rate":44100}`),
		"session_not_ready": func(t *testing.T) event {
			h := newHarness(t, scripted(nil), nil)
			c := h.dial(true)
			c.t = t
			c.sendRaw(websocket.MessageBinary, make([]byte, 640))
			return c.expect(parleyv1.TypeError)
		},
		"unknown_tool_call":  bad(`{"type":"tool.result","call_id":"nope","output":"x"}`),
		"invalid_field":      bad(`{"type":"session.update","vad":{"min_silence_ms":5}}`),
		"recording_disabled": bad(`{"type":"session.update","recording":true}`),
		"stt_failed": func(t *testing.T) event {
			return errorOf(t, scripted(nil), func(h *harness) {
				h.stt.Transcripts = []string{"hello"}
				h.stt.Fail = func(int) error { return down() }
			}, func(c *client) { c.utterance(600 * time.Millisecond) })
		},
		"llm_failed": func(t *testing.T) event {
			return errorOf(t, reply(nil, &sdk.Error{Code: sdk.CodeInternal, Message: "upstream said: 10.0.0.1:443 exploded"}), nil, text)
		},
		"llm_interrupted": func(t *testing.T) event {
			return errorOf(t, reply([]sdk.GenerateEvent{{TextDelta: "One. "}, {TextDelta: "Two"}}, down()), nil, text)
		},
		"tts_failed": func(t *testing.T) event {
			return errorOf(t, scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text("Many more words to say than streams.")}),
				func(h *harness) { h.tts.Fail = func(int) error { return down() } }, text)
		},
		"tool_failed": func(t *testing.T) event {
			return errorOf(t, reply(sessiontest.Call("c1", "no_such_tool", `{}`), nil), nil, text)
		},
		"tool_timeout": func(t *testing.T) event {
			h := newHarness(t, reply(sessiontest.Call("c1", "ask_user", `{}`), nil), nil)
			c := h.dial(true)
			c.t = t
			c.ready(map[string]any{"tools": []map[string]any{{"name": "ask_user", "description": "asks"}}})
			text(c)
			c.expect(parleyv1.TypeToolCall)
			h.clock.Advance(time.Minute)
			return c.expect(parleyv1.TypeError)
		},
		"tool_rounds_exceeded": func(t *testing.T) event {
			return errorOf(t, reply(sessiontest.Call("", "calculator", `{"expression":"1+1"}`), nil), nil, text)
		},
		"session_limit": refused(session.CodeSessionLimit, func(s *setup) { s.session.MaxSessions = 1 }, func(h *harness) { h.dial(true) }),
		"ip_limit":      refused(session.CodeIPLimit, func(s *setup) { s.session.MaxSessionsPerIP = 1 }, func(h *harness) { h.dial(true) }),
		"overloaded":    refused(session.CodeOverloaded, func(s *setup) { s.guard = overloadedGuard{} }, nil),
		"draining": refused(session.CodeDraining, nil, func(h *harness) {
			require.NoError(t, h.mgr.Drain(t.Context()))
		}),
	}
	for _, code := range documented {
		t.Run(code, func(t *testing.T) {
			if why, ok := reservedCodes[code]; ok {
				_, has := producers[code]
				assert.False(t, has, "reserved code %s has a producer: drop it from reservedCodes", code)
				t.Skipf("reserved: %s", why)
			}
			produce, ok := producers[code]
			require.True(t, ok, "no test produces documented code %s", code)
			ev := produce(t)
			assert.Equal(t, code, ev.str("code"))
			assert.NotEmpty(t, ev.str("message"))
			assert.NotContains(t, ev.str("message"), "unix", "no socket path reaches the client")
		})
	}
	for code := range producers {
		assert.Contains(t, documented, code, "produced code %s is not documented", code)
	}
}
