package ws_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/tools"
)

// toolThenText calls a tool on the user's turn and answers with text once
// the tool result is in.
func toolThenText(call []sdk.GenerateEvent, answer string) *sessiontest.LLM {
	return &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		if req.Messages[len(req.Messages)-1].Role == sdk.RoleTool {
			return sessiontest.Text(answer), nil
		}
		return call, nil
	}}
}

func TestClientToolRoundTrip(t *testing.T) {
	llm := toolThenText(sessiontest.Call("call_1", "get_weather", `{"city":"Paris"}`), "It is sunny in Paris.")
	h := newHarness(t, llm, nil)
	c := h.dial(true)
	upd := c.ready(map[string]any{"tools": []map[string]any{{
		"name": "get_weather", "description": "Weather for a city",
		"parameters": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
	}}})
	assert.Contains(t, upd["tools"], "get_weather")
	c.sendJSON(map[string]any{"type": "input.text", "text": "weather in paris?"})
	call := c.expect(parleyv1.TypeToolCall)
	assert.Equal(t, "call_1", call.str("call_id"))
	assert.Equal(t, "get_weather", call.str("name"))
	assert.Equal(t, string(tools.LocationClient), call.str("location"))
	assert.Equal(t, map[string]any{"city": "Paris"}, call["arguments"])
	c.sendJSON(map[string]any{"type": "tool.result", "call_id": "call_1", "output": map[string]any{"sky": "clear", "temp_c": 21}})
	tr := c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, "It is sunny in Paris.", tr.first(parleyv1.TypeResponseDone).str("text"))

	reqs := llm.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, []string{"calculator", "end_session", "get_current_time", "get_weather"}, toolNames(reqs[0].Tools))
	msgs := reqs[1].Messages
	assert.Equal(t, sdk.RoleAssistant, msgs[len(msgs)-2].Role)
	assert.Equal(t, "get_weather", msgs[len(msgs)-2].ToolCalls[0].Name)
	assert.Equal(t, sdk.Message{Role: sdk.RoleTool, ToolCallID: "call_1", Content: `{"sky":"clear","temp_c":21}`}, msgs[len(msgs)-1])
	// The history keeps the whole exchange.
	hist := c.history()
	require.Len(t, hist, 4)
	assert.Equal(t, sdk.RoleTool, hist[2].Role)
	assert.Equal(t, "It is sunny in Paris.", hist[3].Content)
	// A second answer for the same call id is unknown now.
	c.sendJSON(map[string]any{"type": "tool.result", "call_id": "call_1", "output": "late"})
	assert.Equal(t, string(session.CodeUnknownToolCall), c.expect(parleyv1.TypeError).str("code"))
}

func toolNames(tools []sdk.Tool) []string {
	out := make([]string, 0, len(tools))
	for _, t := range tools {
		out = append(out, t.Name)
	}
	sortStrings(out)
	return out
}

// TestClientToolTimeout: the client never answers; after
// ClientToolTimeout (driven by the clock) the model gets an error result.
func TestClientToolTimeout(t *testing.T) {
	llm := toolThenText(sessiontest.Call("c9", "ask_user", `{}`), "Never mind.")
	h := newHarness(t, llm, nil)
	c := h.dial(true)
	c.ready(map[string]any{"tools": []map[string]any{{"name": "ask_user"}}})
	c.sendJSON(map[string]any{"type": "input.text", "text": "hm"})
	c.expect(parleyv1.TypeToolCall)
	h.clock.Advance(10 * time.Second)
	ev := c.expect(parleyv1.TypeError)
	assert.Equal(t, string(session.CodeToolTimeout), ev.str("code"))
	c.until(parleyv1.TypeResponseDone, true)
	last := llm.Requests()[1].Messages
	assert.True(t, last[len(last)-1].IsError)
}

func TestServerToolRoundTrip(t *testing.T) {
	llm := toolThenText(sessiontest.Call("t1", "get_current_time", `{}`), "It is three past four.")
	h := newHarness(t, llm, nil)
	c := h.dial(true)
	c.ready(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "what time is it"})
	tr := c.until(parleyv1.TypeResponseDone, true)
	call := tr.first(parleyv1.TypeToolCall)
	require.NotNil(t, call)
	assert.Equal(t, string(tools.LocationServer), call.str("location"))
	assert.Equal(t, "get_current_time", call.str("name"))
	msgs := llm.Requests()[1].Messages
	res := msgs[len(msgs)-1]
	assert.Equal(t, sdk.RoleTool, res.Role)
	assert.Equal(t, "t1", res.ToolCallID)
	var out map[string]string
	require.NoError(t, json.Unmarshal([]byte(res.Content), &out))
	assert.Equal(t, testStart.Format(time.RFC3339), out["time"])
	assert.Equal(t, "UTC", out["timezone"])
	assert.Equal(t, "It is three past four.", tr.first(parleyv1.TypeResponseDone).str("text"))
}

func TestCalculatorTool(t *testing.T) {
	llm := toolThenText(sessiontest.Call("k", "calculator", `{"expression":"2 + 3 * (4 - 1) ^ 2"}`), "Twenty-nine.")
	h := newHarness(t, llm, nil)
	c := h.dial(true)
	c.ready(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "compute"})
	c.until(parleyv1.TypeResponseDone, true)
	msgs := llm.Requests()[1].Messages
	assert.Equal(t, `{"result":29}`, msgs[len(msgs)-1].Content)
}

func TestWebhookTool(t *testing.T) {
	var got map[string]any
	var auth string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &got)
		auth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"shipped"}`))
	}))
	defer hook.Close()
	llm := toolThenText(sessiontest.Call("w1", "order_status", `{"order":"A17"}`), "Your order has shipped.")
	h := newHarness(t, llm, func(s *setup) {
		s.tools.Webhooks = []config.WebhookTool{{
			Name: "order_status", Description: "Order status", URL: hook.URL, Timeout: time.Second,
			HeaderValues: map[string]string{"Authorization": "Bearer t0k"},
			Parameters:   map[string]any{"type": "object", "properties": map[string]any{"order": map[string]any{"type": "string"}}},
		}}
	})
	c := h.dial(true)
	c.ready(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "where is my order"})
	tr := c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, string(tools.LocationServer), tr.first(parleyv1.TypeToolCall).str("location"))
	assert.Equal(t, map[string]any{"order": "A17"}, got)
	assert.Equal(t, "Bearer t0k", auth)
	msgs := llm.Requests()[1].Messages
	assert.Equal(t, `{"status":"shipped"}`, msgs[len(msgs)-1].Content)
}

// TestEndSessionTool: the session closes normally after the goodbye was sent.
func TestEndSessionTool(t *testing.T) {
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		if req.Messages[len(req.Messages)-1].Role == sdk.RoleTool {
			return sessiontest.Text("Goodbye!"), nil
		}
		return sessiontest.Call("e", "end_session", `{}`), nil
	}}
	h := newHarness(t, llm, nil)
	c := h.dial(true)
	c.ready(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "bye"})
	tr := c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, "Goodbye!", tr.first(parleyv1.TypeResponseDone).str("text"))
	assert.NotEmpty(t, tr.frames)
	assert.Equal(t, websocket.StatusNormalClosure, c.closeStatus())
}

// TestToolRoundCap: a model that keeps calling tools is stopped after
// MaxToolRounds with an error event; the last round offers no tools.
func TestToolRoundCap(t *testing.T) {
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Call("", "calculator", `{"expression":"1+1"}`), nil
	}}
	h := newHarness(t, llm, func(s *setup) { s.session.MaxToolRounds = 2 })
	c := h.dial(true)
	c.ready(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "loop"})
	tr := c.until(parleyv1.TypeResponseDone, true)
	reqs := llm.Requests()
	require.Len(t, reqs, 3)
	assert.NotEmpty(t, reqs[1].Tools)
	assert.Empty(t, reqs[2].Tools)
	assert.Equal(t, string(session.CodeToolRoundsExceeded), tr.first(parleyv1.TypeError).str("code"))
}
