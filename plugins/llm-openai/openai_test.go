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

// hi returns a one-message request.
func hi() sdk.GenerateRequest {
	return sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}}
}

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
	assert.Equal(t, &sdk.Done{StopReason: sdk.StopEndTurn, Usage: sdk.Usage{InputTokens: 9, OutputTokens: 12}}, evs[2].Done)

	req := f.LastRequest(t)
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, "/v1/chat/completions", req.Path)
	assert.Equal(t, "Bearer "+testAPIKey, req.Header.Get("Authorization"))
	assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
	assert.JSONEq(t, `{
		"model": "gpt-4o-mini",
		"max_completion_tokens": 1024,
		"stream": true,
		"stream_options": {"include_usage": true},
		"messages": [{"role": "user", "content": "Hi"}]
	}`, string(req.Body))
}

func TestGenerateToolRoundTrip(t *testing.T) {
	f := providertest.NewServer(t, providertest.SSEHandler(sseEvents(t, "tool_calls.sse")...))
	p := newTestPlugin(t, f.URL, map[string]any{"model": "gpt-4.1", "temperature": 1.2})
	s, err := p.Generate(context.Background(), sdk.GenerateRequest{
		Messages: []sdk.Message{
			{Role: sdk.RoleSystem, Content: "You are a voice agent."},
			{Role: sdk.RoleUser, Content: "Weather and time in Paris?"},
			{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{
				{ID: "call_a", Name: "get_weather", Arguments: json.RawMessage(`{ "location": "Paris" }`)},
				{ID: "call_b", Name: "get_time"},
			}},
			{Role: sdk.RoleTool, ToolCallID: "call_a", Content: "18°C, clear"},
			{Role: sdk.RoleTool, ToolCallID: "call_b", Content: "clock unavailable", IsError: true},
			{Role: sdk.RoleAssistant, Content: "It is 18°C."},
			{Role: sdk.RoleUser, Content: "Again please."},
		},
		Tools: []sdk.Tool{
			{Name: "get_weather", Description: "Current weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)},
			{Name: "get_time"},
		},
		MaxTokens: 200,
	})
	require.NoError(t, err)
	evs, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)

	require.Len(t, evs, 3)
	require.NotNil(t, evs[0].ToolCall)
	assert.Equal(t, "call_DdmO9pD3xa9XTPNJ32zg2hcA", evs[0].ToolCall.ID)
	assert.Equal(t, "get_weather", evs[0].ToolCall.Name)
	assert.JSONEq(t, `{"location": "Paris, France"}`, string(evs[0].ToolCall.Arguments))
	require.NotNil(t, evs[1].ToolCall)
	assert.Equal(t, "call_Ab3qZ0pXw1cVn8HkR7sT2uLe", evs[1].ToolCall.ID)
	assert.Equal(t, "get_time", evs[1].ToolCall.Name)
	assert.JSONEq(t, `{"tz": "Europe/Paris"}`, string(evs[1].ToolCall.Arguments))
	assert.Equal(t, &sdk.Done{StopReason: sdk.StopToolUse, Usage: sdk.Usage{InputTokens: 84, OutputTokens: 51}}, evs[2].Done)

	req := f.LastRequest(t)
	assert.JSONEq(t, `{
		"model": "gpt-4.1",
		"max_completion_tokens": 200,
		"temperature": 1.2,
		"stream": true,
		"stream_options": {"include_usage": true},
		"messages": [
			{"role": "system", "content": "You are a voice agent."},
			{"role": "user", "content": "Weather and time in Paris?"},
			{"role": "assistant", "content": null, "tool_calls": [
				{"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}},
				{"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
			]},
			{"role": "tool", "tool_call_id": "call_a", "content": "18°C, clear"},
			{"role": "tool", "tool_call_id": "call_b", "content": "error: clock unavailable"},
			{"role": "assistant", "content": "It is 18°C."},
			{"role": "user", "content": "Again please."}
		],
		"tools": [
			{"type": "function", "function": {"name": "get_weather", "description": "Current weather", "parameters": {"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}},
			{"type": "function", "function": {"name": "get_time", "parameters": {"type":"object","properties":{}}}}
		]
	}`, string(req.Body))
}

func TestToolCallAssembly(t *testing.T) {
	frag := func(index int, extra string) string {
		return `[{"index":0,"delta":{"tool_calls":[{"index":` + string(rune('0'+index)) + extra + `}]},"finish_reason":null}]`
	}
	tests := []struct {
		name   string
		events []string
		stop   sdk.StopReason
	}{
		{"interleaved fragments, finish_reason then end of body without [DONE]", []string{
			chunkEvent(frag(1, `,"id":"call_2","type":"function","function":{"name":"second","arguments":""}`), "null"),
			chunkEvent(frag(0, `,"id":"call_1","type":"function","function":{"name":"first","arguments":"{\"a\""}`), "null"),
			chunkEvent(frag(1, `,"function":{"arguments":"{\"b\": [1, 2"}`), "null"),
			chunkEvent(frag(0, `,"function":{"arguments":": true}"}`), "null"),
			chunkEvent(frag(1, `,"function":{"arguments":"]}"}`), "null"),
			chunkEvent(`[{"index":0,"delta":{},"finish_reason":"tool_calls"}]`, "null"),
		}, sdk.StopToolUse},
		{"whole calls in one chunk and [DONE] without finish_reason (Ollama style)", []string{
			chunkEvent(`[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[`+
				`{"id":"call_1","index":0,"type":"function","function":{"name":"first","arguments":"{\"a\":true}"}},`+
				`{"id":"call_2","index":1,"type":"function","function":{"name":"second","arguments":"{\"b\":[1,2]}"}}]},"finish_reason":null}]`, "null"),
			dataEvent("[DONE]"),
		}, sdk.StopToolUse},
		{"fragments without index", []string{
			chunkEvent(`[{"index":0,"delta":{"tool_calls":[{"id":"call_1","type":"function","function":{"name":"first","arguments":"{\"a\":true}"}},`+
				`{"id":"call_2","type":"function","function":{"name":"second","arguments":"{\"b\":[1,2]}"}}]},"finish_reason":"stop"}]`, "null"),
			dataEvent("[DONE]"),
		}, sdk.StopEndTurn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewServer(t, providertest.SSEHandler(tc.events...))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), hi())
			require.NoError(t, err)
			evs, err := providertest.Collect(t, s)
			require.ErrorIs(t, err, io.EOF)
			require.Len(t, evs, 3)
			require.NotNil(t, evs[0].ToolCall)
			require.NotNil(t, evs[1].ToolCall)
			assert.Equal(t, sdk.ToolCall{ID: "call_1", Name: "first", Arguments: json.RawMessage(`{"a": true}`)}.ID, evs[0].ToolCall.ID)
			assert.Equal(t, "first", evs[0].ToolCall.Name)
			assert.JSONEq(t, `{"a": true}`, string(evs[0].ToolCall.Arguments))
			assert.Equal(t, "call_2", evs[1].ToolCall.ID)
			assert.Equal(t, "second", evs[1].ToolCall.Name)
			assert.JSONEq(t, `{"b": [1, 2]}`, string(evs[1].ToolCall.Arguments))
			require.NotNil(t, evs[2].Done)
			assert.Equal(t, tc.stop, evs[2].Done.StopReason)
		})
	}
}

func TestLocalServerSettings(t *testing.T) {
	f := providertest.NewServer(t, providertest.SSEHandler(sseEvents(t, "text.sse")...))
	client := &http.Client{}
	t.Cleanup(client.CloseIdleConnections)
	p := newPlugin(client, envMap(nil), nil)
	require.NoError(t, p.Configure(context.Background(), json.RawMessage(`{
		"base_url": "`+f.URL+`/v1", "model": "llama3.2", "max_tokens_field": "max_tokens", "include_usage": false, "max_tokens": 64
	}`)))
	s, err := p.Generate(context.Background(), hi())
	require.NoError(t, err)
	_, err = providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	req := f.LastRequest(t)
	assert.Empty(t, req.Header.Get("Authorization"), "no key, no Authorization header")
	assert.JSONEq(t, `{
		"model": "llama3.2", "max_tokens": 64, "stream": true,
		"messages": [{"role": "user", "content": "hi"}]
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
		{"tool schema not an object", sdk.GenerateRequest{Messages: hi().Messages, Tools: []sdk.Tool{{Name: "f", Parameters: json.RawMessage(`"string"`)}}}},
		{"unknown role", sdk.GenerateRequest{Messages: []sdk.Message{{Role: "narrator", Content: "hi"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Generate(context.Background(), tc.req)
			assert.Equal(t, sdk.CodeInvalidArgument, sdk.CodeOf(err))
		})
	}
	assert.Empty(t, f.Requests, "invalid requests must not reach the provider")
}

func TestGenerateBeforeConfigure(t *testing.T) {
	p := newPlugin(&http.Client{}, envMap(nil), nil)
	_, err := p.Generate(context.Background(), hi())
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
	}{
		{"400 invalid request", 400, nil, `{"error":{"message":"Invalid value for 'max_completion_tokens'","type":"invalid_request_error","param":"max_completion_tokens","code":"invalid_value"}}`, sdk.CodeInvalidArgument, 0},
		{"401 bad key", 401, nil, `{"error":{"message":"Incorrect API key provided: sk-proj-****-key.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, sdk.CodeUnauthenticated, 0},
		{"403 region", 403, nil, `{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","param":null,"code":"unsupported_country_region_territory"}}`, sdk.CodePermissionDenied, 0},
		{"429 rate limited", 429, http.Header{"Retry-After": {"2"}, "Retry-After-Ms": {"1500"}}, `{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, sdk.CodeResourceExhausted, 1500 * time.Millisecond},
		{"500 server error", 500, nil, `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`, sdk.CodeUnavailable, 0},
		{"503 overloaded", 503, nil, `{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error"}}`, sdk.CodeUnavailable, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewServer(t, providertest.ErrorHandler(tc.status, tc.header, tc.body))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), hi())
			require.NoError(t, err)
			evs, err := providertest.Collect(t, s)
			assert.Empty(t, evs)
			e := sdkError(t, err)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.retryAfter, e.RetryAfter)
			assert.Equal(t, "openai", e.Details[providerhttp.DetailProvider])
			assert.NotContains(t, e.Error(), testAPIKey)
		})
	}
}

func TestMidStreamErrorChunk(t *testing.T) {
	tests := []struct {
		name  string
		chunk string
		code  sdk.Code
	}{
		{"openai server error", `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`, sdk.CodeUnavailable},
		{"openai rate limit", `{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`, sdk.CodeResourceExhausted},
		{"context too long", `{"error":{"message":"maximum context length is 128000 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}`, sdk.CodeInvalidArgument},
		{"vllm flat error with status", `{"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","param":null,"code":400}`, sdk.CodeInvalidArgument},
		{"llama.cpp style", `{"error":{"code":500,"message":"slot unavailable","type":"server_error"}}`, sdk.CodeUnavailable},
		{"error as a plain string", `{"error":"model crashed"}`, sdk.CodeUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := sseEvents(t, "text.sse")[:2]
			events = append(events, dataEvent(tc.chunk))
			f := providertest.NewServer(t, providertest.SSEHandler(events...))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), hi())
			require.NoError(t, err)
			evs, err := providertest.Collect(t, s)
			assert.Equal(t, "Hello", text(evs))
			e := sdkError(t, err)
			assert.Equal(t, tc.code, e.Code, e.Message)
		})
	}
}

func TestMalformedStream(t *testing.T) {
	tests := []struct {
		name   string
		events []string
	}{
		{"chunk is not JSON", []string{dataEvent(`{"choices":`)}},
		{"tool arguments are not JSON", []string{
			chunkEvent(`[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\": "}}]},"finish_reason":"tool_calls"}]`, "null"),
		}},
		{"tool call without a name", []string{
			chunkEvent(`[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]`, "null"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewServer(t, providertest.SSEHandler(tc.events...))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), hi())
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
		{"connection dropped between chunks", "Hello", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				providertest.StartSSE(w)
				providertest.WriteEvents(w, events[:2]...)
				providertest.HijackClose(t, w)
			}
		}},
		{"connection dropped mid-chunk", "Hello", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				providertest.StartSSE(w)
				providertest.WriteEvents(w, events[:2]...)
				providertest.WriteEvents(w, `data: {"id":"chatcmpl-123","object":"chat.comp`)
				providertest.HijackClose(t, w)
			}
		}},
		{"response ended without finish_reason or [DONE]", "Hello!", func(*testing.T) http.HandlerFunc {
			return providertest.SSEHandler(events[:3]...)
		}},
		{"response ended mid-chunk after finish_reason", "Hello!", func(*testing.T) http.HandlerFunc {
			return providertest.SSEHandler(append(events[:4:4], `data: {"id":"chatcmpl-123"`)...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewServer(t, tc.handler(t))
			p := newTestPlugin(t, f.URL, nil)
			s, err := p.Generate(context.Background(), hi())
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
		providertest.WriteEvents(w, events[:2]...)
		select { // a provider that is slow to send the rest
		case <-r.Context().Done():
			close(upstreamGone)
		case <-f.Released:
		}
	})
	p := newTestPlugin(t, f.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := p.Generate(ctx, hi())
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
		{"headers but no chunk", map[string]any{"first_byte_timeout": "50ms"}, 0, providerhttp.ErrFirstByteTimeout},
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
			s, err := p.Generate(context.Background(), hi())
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
	s, err := p.Generate(context.Background(), hi())
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
		s, err := p.Generate(context.Background(), hi())
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
	events := append([]string{}, all[:3]...)
	for range padding {
		events = append(events, ": keep-alive\n\n")
	}
	events = append(events, all[3:]...)
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
