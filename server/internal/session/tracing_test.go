package session_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/tools"
)

func attrs(s sdktrace.ReadOnlySpan) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, a := range s.Attributes() {
		m[string(a.Key)] = a.Value
	}
	return m
}

// TestTracingSpans: a spoken question answered through a tool makes one
// trace: session → turn → stt, llm (two rounds), tool, tts, with their
// measures; transcripts and reply text only with IncludeContent.
func TestTracingSpans(t *testing.T) {
	for _, content := range []bool{false, true} {
		name := "without content"
		if content {
			name = "with content"
		}
		t.Run(name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
				if last := req.Messages[len(req.Messages)-1]; last.Role == sdk.RoleTool {
					ev := sessiontest.Text("It is ", "noon.")
					ev[len(ev)-1].Done.Usage = sdk.Usage{InputTokens: 30, OutputTokens: 4}
					return ev, nil
				}
				return sessiontest.Call("t1", tools.ToolGetCurrentTime, `{}`), nil
			}}
			stt := &sessiontest.STT{Transcripts: []string{"what time is it"}}
			tc := newTypedTTS(t, llm, stt, &sessiontest.TTS{WordDuration: 100 * time.Millisecond},
				session.StartParams{Transport: "websocket"},
				session.WithTracing(session.Tracing{Tracer: tp.Tracer("test"), IncludeContent: content, LLMSystem: "llm-x", LLMModel: "m-1"}))
			rate := 16000
			tc.audio(sessiontest.Silence(400*time.Millisecond, rate))
			tc.audio(sessiontest.Speech(600*time.Millisecond, rate))
			tc.audio(sessiontest.Silence(600*time.Millisecond, rate))
			_, done := until[session.ResponseDone](tc, true, nil)
			require.Equal(t, "It is noon.", done.Text)
			tc.sess.Close(session.EndNormal, "bye")
			<-tc.sess.Done()

			byName := map[string][]sdktrace.ReadOnlySpan{}
			for _, s := range rec.Ended() {
				byName[s.Name()] = append(byName[s.Name()], s)
			}
			require.Len(t, byName["session"], 1)
			require.Len(t, byName["turn"], 1)
			require.Len(t, byName["llm"], 2, "two rounds")
			require.Len(t, byName["stt"], 1)
			require.Len(t, byName["tool"], 1)
			require.Len(t, byName["tts"], 1)
			sess, turn := byName["session"][0], byName["turn"][0]
			assert.False(t, sess.Parent().IsValid(), "a session is a trace of its own")
			assert.Equal(t, sess.SpanContext().SpanID(), turn.Parent().SpanID())
			for _, n := range []string{"stt", "llm", "tool", "tts"} {
				for _, s := range byName[n] {
					assert.Equal(t, turn.SpanContext().SpanID(), s.Parent().SpanID(), "%s is a child of the turn", n)
					assert.Equal(t, sess.SpanContext().TraceID(), s.SpanContext().TraceID())
				}
			}

			sa := attrs(sess)
			assert.Equal(t, "websocket", sa["parley.transport"].AsString())
			assert.Equal(t, "loopback", sa["parley.remote_ip_class"].AsString())
			assert.Equal(t, "normal", sa["parley.end_reason"].AsString())
			assert.NotContains(t, sa, "client.address")
			ta := attrs(turn)
			assert.Equal(t, int64(len("what time is it")), ta["parley.turn.user_text_length"].AsInt64())
			assert.False(t, ta["parley.turn.interrupted"].AsBool())
			assert.Contains(t, ta, "parley.turn.endpoint_delay_ms")
			assert.Positive(t, ta["parley.turn.voice_to_voice_ms"].AsInt64())
			last := attrs(byName["llm"][1])
			assert.Equal(t, "llm-x", last["gen_ai.system"].AsString())
			assert.Equal(t, "m-1", last["gen_ai.request.model"].AsString())
			assert.Equal(t, int64(30), last["gen_ai.usage.input_tokens"].AsInt64())
			assert.Equal(t, int64(4), last["gen_ai.usage.output_tokens"].AsInt64())
			assert.Contains(t, last, "parley.llm.time_to_first_token_ms")
			assert.Equal(t, int64(1), attrs(byName["llm"][0])["parley.llm.tool_calls"].AsInt64())
			tool := attrs(byName["tool"][0])
			assert.Equal(t, tools.ToolGetCurrentTime, tool["gen_ai.tool.name"].AsString())
			assert.Equal(t, "server", tool["parley.tool.location"].AsString())
			assert.Equal(t, "ok", tool["parley.tool.outcome"].AsString())
			tts := attrs(byName["tts"][0])
			assert.Equal(t, int64(len("It is noon.")), tts["parley.tts.characters"].AsInt64())
			assert.Contains(t, tts, "parley.tts.time_to_first_audio_ms")

			var texts []string
			for _, s := range rec.Ended() {
				for _, a := range s.Attributes() {
					texts = append(texts, a.Value.String())
				}
			}
			all := strings.Join(texts, "\n")
			if content {
				assert.Contains(t, all, "what time is it")
				assert.Contains(t, all, "It is noon.")
			} else {
				assert.NotContains(t, all, "what time")
				assert.NotContains(t, all, "noon")
			}
		})
	}
}

// TestIPClass: spans say what kind of address called, never which.
func TestIPClass(t *testing.T) {
	for ip, want := range map[string]string{
		"127.0.0.1": "loopback", "::1": "loopback", "10.1.2.3": "private", "192.168.0.9:5000": "private",
		"fd00::1": "private", "169.254.1.1": "private", "8.8.8.8": "public", "2001:db8::1": "public", "": "unknown",
	} {
		assert.Equal(t, want, session.IPClass(ip), ip)
	}
}

// TestTracingErrors: a failed LLM call marks its llm span and the turn
// with status Error; the session goes on.
func TestTracingErrors(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return nil, sdk.Errorf(sdk.CodeInvalidArgument, "model refused the request")
	}}
	tc := newTypedTTS(t, llm, &sessiontest.STT{}, &sessiontest.TTS{}, session.StartParams{},
		session.WithTracing(session.Tracing{Tracer: tp.Tracer("test")}))
	tc.do(session.InputText{Text: "hello"})
	_, done := until[session.ResponseDone](tc, true, nil)
	require.Equal(t, session.StatusFailed, done.Status)
	_, _ = until[session.Metrics](tc, true, nil)
	tc.sess.Close(session.EndNormal, "bye")
	<-tc.sess.Done()
	seen := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		seen[s.Name()] = s
	}
	require.Contains(t, seen, "llm")
	require.Contains(t, seen, "turn")
	for _, name := range []string{"llm", "turn"} {
		s := seen[name]
		assert.Equal(t, codes.Error, s.Status().Code, name)
		assert.Contains(t, s.Status().Description, "model refused", name)
		require.NotEmpty(t, s.Events(), name)
		assert.Equal(t, "exception", s.Events()[0].Name, name)
	}
	assert.Equal(t, "text", attrs(seen["turn"])["parley.turn.source"].AsString())
	assert.Equal(t, "failed", attrs(seen["turn"])["parley.turn.status"].AsString())
	assert.Equal(t, codes.Unset, seen["session"].Status().Code, "the session did not fail")
}

// TestTracingSampledOut: a session the sampler leaves out records nothing
// below it either.
func TestTracingSampledOut(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.NeverSample()))
	llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) { return sessiontest.Text("Hi."), nil }}
	tc := newTypedTTS(t, llm, &sessiontest.STT{}, &sessiontest.TTS{}, session.StartParams{},
		session.WithTracing(session.Tracing{Tracer: tp.Tracer("test")}))
	tc.do(session.InputText{Text: "hello"})
	_, _ = until[session.Metrics](tc, true, nil)
	tc.sess.Close(session.EndNormal, "bye")
	<-tc.sess.Done()
	assert.Empty(t, rec.Started())
}
