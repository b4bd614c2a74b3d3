package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testWait bounds how long a test waits for something that should happen
// at once; it only turns a hang into a failure.
const testWait = 10 * time.Second

func TestGenerateStreamsText(t *testing.T) {
	f := providertest.NewServer(t, providertest.SSEHandler(sseEvents(t, "text.sse")...))
	p := newTestPlugin(t, f.URL, nil)

	s, err := p.Generate(context.Background(), sdk.GenerateRequest{
		Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "Hi"}},
	})
	require.NoError(t, err)
	evs, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)

	require.Len(t, evs, 3)
	assert.Equal(t, "Hello", evs[0].TextDelta)
	assert.Equal(t, "!", evs[1].TextDelta)
	assert.Equal(t, &sdk.Done{StopReason: sdk.StopEndTurn, Usage: sdk.Usage{InputTokens: 25, OutputTokens: 15}}, evs[2].Done)

	req := f.LastRequest(t)
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, "/v1/messages", req.Path)
	assert.Equal(t, testAPIKey, req.Header.Get("x-api-key"))
	assert.Equal(t, defaultAnthropicVersion, req.Header.Get("anthropic-version"))
	assert.Equal(t, "application/json", req.Header.Get("content-type"))
	assert.Empty(t, req.Header.Get("Authorization"))
	assert.JSONEq(t, `{
		"model": "claude-sonnet-4-5",
		"max_tokens": 1024,
		"stream": true,
		"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
	}`, string(req.Body))
}

func TestGenerateToolRoundTrip(t *testing.T) {
	f := providertest.NewServer(t, providertest.SSEHandler(sseEvents(t, "tool_use.sse")...))
	p := newTestPlugin(t, f.URL, map[string]any{
		"model":             "claude-haiku-4-5",
		"max_tokens":        256,
		"temperature":       0.2,
		"anthropic_version": "2025-01-01",
	})
	temp := float32(0.5)
	s, err := p.Generate(context.Background(), sdk.GenerateRequest{
		Messages: []sdk.Message{
			{Role: sdk.RoleSystem, Content: "You are a voice agent."},
			{Role: sdk.RoleSystem, Content: "Answer briefly."},
			{Role: sdk.RoleUser, Content: "Weather and time in Paris?"},
			{Role: sdk.RoleAssistant, Content: "Checking.", ToolCalls: []sdk.ToolCall{
				{ID: "toolu_a", Name: "get_weather", Arguments: json.RawMessage(`{"location": "Paris"}`)},
				{ID: "toolu_b", Name: "get_time"},
			}},
			{Role: sdk.RoleTool, ToolCallID: "toolu_a", Content: "18°C, clear"},
			{Role: sdk.RoleTool, ToolCallID: "toolu_b", Content: "clock unavailable", IsError: true},
			{Role: sdk.RoleUser, Content: "And in San Francisco?"},
		},
		Tools: []sdk.Tool{
			{Name: "get_weather", Description: "Current weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)},
			{Name: "get_time", Description: "Current time"},
		},
		MaxTokens:   300,
		Temperature: &temp,
	})
	require.NoError(t, err)
	evs, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)

	require.Len(t, evs, 5)
	assert.Equal(t, "Okay, let me check", evs[0].TextDelta)
	assert.Equal(t, " the weather.", evs[1].TextDelta)
	require.NotNil(t, evs[2].ToolCall)
	assert.Equal(t, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", evs[2].ToolCall.ID)
	assert.Equal(t, "get_weather", evs[2].ToolCall.Name)
	assert.JSONEq(t, `{"location": "San Francisco, CA", "unit": "fahrenheit"}`, string(evs[2].ToolCall.Arguments))
	require.NotNil(t, evs[3].ToolCall)
	assert.Equal(t, "get_time", evs[3].ToolCall.Name)
	assert.JSONEq(t, `{}`, string(evs[3].ToolCall.Arguments))
	assert.Equal(t, &sdk.Done{StopReason: sdk.StopToolUse, Usage: sdk.Usage{InputTokens: 472, OutputTokens: 89}}, evs[4].Done)

	req := f.LastRequest(t)
	assert.Equal(t, "2025-01-01", req.Header.Get("anthropic-version"))
	assert.JSONEq(t, `{
		"model": "claude-haiku-4-5",
		"max_tokens": 300,
		"temperature": 0.5,
		"stream": true,
		"system": "You are a voice agent.\n\nAnswer briefly.",
		"messages": [
			{"role": "user", "content": [{"type": "text", "text": "Weather and time in Paris?"}]},
			{"role": "assistant", "content": [
				{"type": "text", "text": "Checking."},
				{"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"location": "Paris"}},
				{"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}}
			]},
			{"role": "user", "content": [
				{"type": "tool_result", "tool_use_id": "toolu_a", "content": "18°C, clear"},
				{"type": "tool_result", "tool_use_id": "toolu_b", "content": "clock unavailable", "is_error": true}
			]},
			{"role": "user", "content": [{"type": "text", "text": "And in San Francisco?"}]}
		],
		"tools": [
			{"name": "get_weather", "description": "Current weather", "input_schema": {"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}},
			{"name": "get_time", "description": "Current time", "input_schema": {"type":"object","properties":{}}}
		]
	}`, string(req.Body))
}

func TestGenerateRejectsBadRequest(t *testing.T) {
	f := providertest.NewServer(t, providertest.SSEHandler(sseEvents(t, "text.sse")...))
	p := newTestPlugin(t, f.URL, nil)
	tests := []struct {
		name string
		req  sdk.GenerateRequest
	}{
		{"tool call arguments not JSON", sdk.GenerateRequest{Messages: []sdk.Message{
			{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{{ID: "x", Name: "f", Arguments: json.RawMessage(`{"a":`)}}},
		}}},
		{"tool call arguments not an object", sdk.GenerateRequest{Messages: []sdk.Message{
			{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{{ID: "x", Name: "f", Arguments: json.RawMessage(`[1]`)}}},
		}}},
		{"tool schema not JSON", sdk.GenerateRequest{
			Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}},
			Tools:    []sdk.Tool{{Name: "f", Parameters: json.RawMessage(`nope`)}},
		}},
		{"unknown role", sdk.GenerateRequest{Messages: []sdk.Message{{Role: "narrator", Content: "hi"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Generate(context.Background(), tc.req)
			require.Error(t, err)
			assert.Equal(t, sdk.CodeInvalidArgument, sdk.CodeOf(err))
		})
	}
	assert.Empty(t, f.Requests, "invalid requests must not reach the provider")
}

func TestGenerateBeforeConfigure(t *testing.T) {
	p := newPlugin(&http.Client{}, envMap(nil), nil)
	_, err := p.Generate(context.Background(), sdk.GenerateRequest{})
	assert.Equal(t, sdk.CodeFailedPrecondition, sdk.CodeOf(err))
}

func TestHTTPErrorsAreMapped(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		code       sdk.Code
		retryAfter time.Duration
		errType    string
	}{
		{"400 invalid request", 400, nil, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`, sdk.CodeInvalidArgument, 0, "invalid_request_error"},
		{"401 bad key", 401, nil, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, sdk.CodeUnauthenticated, 0, "authentication_error"},
		{"403 forbidden", 403, nil, `{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}`, sdk.CodePermissionDenied, 0, "permission_error"},
		{"429 rate limited", 429, http.Header{"Retry-After": {"7"}}, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`, sdk.CodeResourceExhausted, 7 * time.Second, "rate_limit_error"},
		{"500 api error", 500, nil, `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`, sdk.CodeUnavailable, 0, "api_error"},
		{"529 overloaded", 529, nil, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, sdk.CodeUnavailable, 0, "overloaded_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewServer(t, providertest.ErrorHandler(tc.status, tc.header, tc.body))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
			require.NoError(t, err)
			evs, err := providertest.Collect(t, s)
			assert.Empty(t, evs)
			e := sdkError(t, err)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.retryAfter, e.RetryAfter)
			assert.Equal(t, tc.errType, e.Details[providerhttp.DetailType])
			assert.NotContains(t, e.Error(), testAPIKey)
		})
	}
}

func TestMidStreamErrorEvent(t *testing.T) {
	tests := []struct {
		errType string
		code    sdk.Code
	}{
		{"overloaded_error", sdk.CodeUnavailable},
		{"api_error", sdk.CodeUnavailable},
		{"rate_limit_error", sdk.CodeResourceExhausted},
		{"invalid_request_error", sdk.CodeInvalidArgument},
		{"authentication_error", sdk.CodeUnauthenticated},
		{"permission_error", sdk.CodePermissionDenied},
		{"not_found_error", sdk.CodeNotFound},
		{"some_future_error", sdk.CodeUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.errType, func(t *testing.T) {
			events := sseEvents(t, "text.sse")[:4] // message_start, block start, ping, "Hello"
			events = append(events, event("error", `{"type": "error", "error": {"type": "`+tc.errType+`", "message": "Overloaded"}}`))
			f := providertest.NewServer(t, providertest.SSEHandler(events...))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
			require.NoError(t, err)
			evs, err := providertest.Collect(t, s)
			assert.Equal(t, "Hello", text(evs))
			e := sdkError(t, err)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.errType, e.Details[providerhttp.DetailType])
			assert.Contains(t, e.Message, "Overloaded")
		})
	}
}

func TestUnknownEventsAndBlocksAreIgnored(t *testing.T) {
	all := sseEvents(t, "text.sse")
	events := append([]string{}, all[:3]...)
	events = append(events,
		event("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"thinking","thinking":""}}`),
		event("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"hmm"}}`),
		event("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"signature_delta","signature":"abc"}}`),
		event("content_block_stop", `{"type":"content_block_stop","index":1}`),
		event("future_event", `{"type":"future_event","whatever":[1,2]}`),
		": a comment line\n\n",
	)
	events = append(events, all[3:]...)
	f := providertest.NewServer(t, providertest.SSEHandler(events...))
	p := newTestPlugin(t, f.URL, nil)
	s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
	require.NoError(t, err)
	evs, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, "Hello!", text(evs))
	require.NotNil(t, evs[len(evs)-1].Done)
}

func TestToolInputWithoutDeltas(t *testing.T) {
	events := sseEvents(t, "tool_use.sse")
	f := providertest.NewServer(t, providertest.SSEHandler(
		events[0],
		event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"lookup","input":{"q":"parley"}}}`),
		event("content_block_stop", `{"type":"content_block_stop","index":0}`),
		event("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_2","name":"noop"}}`),
		event("content_block_stop", `{"type":"content_block_stop","index":1}`),
		events[len(events)-2], events[len(events)-1],
	))
	p := newTestPlugin(t, f.URL, nil)
	s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
	require.NoError(t, err)
	evs, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, evs, 3)
	require.NotNil(t, evs[0].ToolCall)
	assert.JSONEq(t, `{"q":"parley"}`, string(evs[0].ToolCall.Arguments))
	require.NotNil(t, evs[1].ToolCall)
	assert.JSONEq(t, `{}`, string(evs[1].ToolCall.Arguments))
	assert.Equal(t, sdk.StopToolUse, evs[2].Done.StopReason)
}

func TestMalformedStream(t *testing.T) {
	start := sseEvents(t, "tool_use.sse")[0]
	tests := []struct {
		name   string
		events []string
	}{
		{"data is not JSON", []string{start, event("content_block_delta", `{"type":`)}},
		{"tool input is not JSON", []string{
			start,
			event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}`),
			event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\": "}}`),
			event("content_block_stop", `{"type":"content_block_stop","index":0}`),
		}},
		{"json delta for a text block", []string{
			start,
			event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
			event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}`),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewServer(t, providertest.SSEHandler(tc.events...))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
			require.NoError(t, err)
			evs, err := providertest.Collect(t, s)
			assert.Empty(t, evs)
			e := sdkError(t, err)
			assert.Equal(t, sdk.CodeUnavailable, e.Code)
			assert.Contains(t, e.Message, "malformed stream")
		})
	}
}

func TestStreamCutShortIsUnavailable(t *testing.T) {
	events := sseEvents(t, "text.sse")
	tests := []struct {
		name     string
		wantText string
		handler  func(t *testing.T) http.HandlerFunc
	}{
		{"connection dropped between events", "Hello", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				providertest.StartSSE(w)
				providertest.WriteEvents(w, events[:4]...)
				providertest.HijackClose(t, w)
			}
		}},
		{"connection dropped mid-event", "Hello", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				providertest.StartSSE(w)
				providertest.WriteEvents(w, events[:4]...)
				providertest.WriteEvents(w, "event: content_block_delta\ndata: {\"type\": \"content_block_del")
				providertest.HijackClose(t, w)
			}
		}},
		{"response ended before message_stop", "Hello!", func(*testing.T) http.HandlerFunc {
			return providertest.SSEHandler(events[:len(events)-1]...)
		}},
		{"response ended mid-event", "Hello", func(*testing.T) http.HandlerFunc {
			return providertest.SSEHandler(append(events[:4:4], "event: content_block_delta\n")...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewServer(t, tc.handler(t))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
			require.NoError(t, err)
			evs, err := providertest.Collect(t, s)
			assert.Equal(t, tc.wantText, text(evs))
			for _, ev := range evs {
				assert.Nil(t, ev.Done, "a cut stream must not report Done")
			}
			e := sdkError(t, err)
			assert.Equal(t, sdk.CodeUnavailable, e.Code)
			assert.Contains(t, e.Message, "stream ended before completion")
		})
	}
}

func TestCancelEndsSlowStream(t *testing.T) {
	events := sseEvents(t, "text.sse")
	upstreamGone := make(chan struct{})
	var f *providertest.Server
	f = providertest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		providertest.WriteEvents(w, events[:4]...)
		select { // a provider that is slow to send the rest
		case <-r.Context().Done():
			close(upstreamGone)
		case <-f.Released:
		}
	})
	p := newTestPlugin(t, f.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := p.Generate(ctx, sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
	require.NoError(t, err)
	ev, err := s.Recv()
	require.NoError(t, err)
	assert.Equal(t, "Hello", ev.TextDelta)

	cancel()
	_, err = s.Recv()
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err))
	select {
	case <-upstreamGone:
	case <-time.After(testWait):
		require.FailNow(t, "the request to the provider was not aborted")
	}
}

func TestTimeouts(t *testing.T) {
	events := sseEvents(t, "text.sse")
	tests := []struct {
		name     string
		settings map[string]any
		// sendFirst is how many events the fake sends before stalling; -1
		// means it never even sends the response headers.
		sendFirst int
		want      error
	}{
		{"no response headers", map[string]any{"first_byte_timeout": "50ms"}, -1, providerhttp.ErrFirstByteTimeout},
		{"headers but no event", map[string]any{"first_byte_timeout": "50ms"}, 0, providerhttp.ErrFirstByteTimeout},
		{"stream stalls", map[string]any{"idle_timeout": "50ms"}, 2, providerhttp.ErrIdleTimeout},
		{"whole request too long", map[string]any{"request_timeout": "100ms"}, 2, providerhttp.ErrRequestTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f *providertest.Server
			f = providertest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.sendFirst >= 0 {
					providertest.StartSSE(w)
					providertest.WriteEvents(w, events[:tc.sendFirst]...)
				}
				select {
				case <-r.Context().Done():
				case <-f.Released:
				}
			})
			p := newTestPlugin(t, f.URL, tc.settings)
			s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
			require.NoError(t, err)
			_, err = providertest.Collect(t, s)
			e := sdkError(t, err)
			assert.Equal(t, sdk.CodeUnavailable, e.Code)
			assert.ErrorIs(t, err, tc.want)
			assert.Contains(t, e.Message, tc.want.Error())
		})
	}
}

func TestProviderUnreachable(t *testing.T) {
	f := providertest.NewServer(t, providertest.SSEHandler())
	url := f.URL
	f.Close()
	p := newTestPlugin(t, url, nil)
	s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
	require.NoError(t, err)
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err))
}

func TestInfo(t *testing.T) {
	info, err := newPlugin(&http.Client{}, envMap(nil), nil).Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, pluginName, info.Name)
	assert.Equal(t, sdk.KindLLM, info.Kind)
	assert.Contains(t, info.Capabilities, capabilityTools)
}

func TestConnectionIsReusedAcrossTurns(t *testing.T) {
	f := providertest.NewServer(t, providertest.SSEHandler(sseEvents(t, "text.sse")...))
	p := newTestPlugin(t, f.URL, nil)
	for turn := range 3 {
		s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
		require.NoError(t, err)
		_, err = providertest.Collect(t, s)
		require.ErrorIs(t, err, io.EOF, "turn %d", turn)
		f.LastRequest(t)
	}
	assert.Equal(t, 1, f.Conns(), "every turn after the first reuses the pooled connection")
}

func TestSlowConsumerIsNotAnIdleProvider(t *testing.T) {
	const (
		idle = 50 * time.Millisecond
		// consumerDelay simulates a consumer busy elsewhere (not a sync point).
		consumerDelay = 4 * idle
	)
	// The plugin blocks handing over the second text while the consumer is
	// away; enough padding follows it that the rest cannot already sit in
	// the plugin's read buffer when the consumer comes back.
	const padding = 2000
	all := sseEvents(t, "text.sse")
	events := append([]string{}, all[:5]...)
	for range padding {
		events = append(events, event("ping", `{"type": "ping"}`))
	}
	events = append(events, all[5:]...)
	f := providertest.NewServer(t, providertest.SSEHandler(events...))
	p := newTestPlugin(t, f.URL, map[string]any{"idle_timeout": idle.String()})
	s, err := p.Generate(context.Background(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
	require.NoError(t, err)
	ev, err := s.Recv()
	require.NoError(t, err)
	assert.Equal(t, "Hello", ev.TextDelta)
	<-time.After(consumerDelay)
	evs, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF, "the provider sent everything at once; only the consumer was slow")
	require.NotEmpty(t, evs)
	assert.NotNil(t, evs[len(evs)-1].Done)
}
