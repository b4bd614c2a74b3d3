package session_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/telemetry/tracing"
	"github.com/parleyhq/parley/server/internal/tools"
)

// BenchmarkTurnTracing measures one typed turn answered through a server
// tool (two LLM rounds, a tool call, one TTS stream of four words paced
// out on a manual clock): tracing off (no WithTracing: the no-op tracer)
// against on at sample ratio 1.0 with the real provider of
// internal/telemetry/tracing — batch processor and OTLP/HTTP protobuf
// exporter posting to a local endpoint that discards — so every span is
// recorded, encoded and sent. Per op: one turn, five spans (turn, llm ×2,
// tool, tts).
func BenchmarkTurnTracing(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on_ratio_1"
		}
		b.Run(name, func(b *testing.B) {
			var opts []session.Option
			var prov *tracing.Provider
			if on {
				var err error
				prov, err = tracing.New(context.Background(), config.Tracing{
					Enabled: true, SampleRatio: 1, ExportURL: collector.URL + "/v1/traces",
					ExportProtocol: config.TracingHTTPProtobuf, ServiceName: "bench",
				}, "bench")
				require.NoError(b, err)
				opts = append(opts, session.WithTracing(session.Tracing{Tracer: prov.Tracer(), LLMSystem: "fake", LLMModel: "m"}))
			}
			benchTurns(b, opts...)
			if prov != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				require.NoError(b, prov.Shutdown(ctx))
			}
		})
	}
}

func benchTurns(b *testing.B, opts ...session.Option) {
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		if req.Messages[len(req.Messages)-1].Role == sdk.RoleTool {
			return sessiontest.Text("It is ", "three o'clock."), nil
		}
		return sessiontest.Call("t1", tools.ToolGetCurrentTime, `{}`), nil
	}}
	clock := sessiontest.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	cfg := config.Session{
		SystemPrompt: "You are a test agent.", Voice: "slt", Language: "en", OutputSampleRate: 16000,
		InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 3, MaxHistory: 4, OutputLookahead: 100 * time.Millisecond,
	}
	tcfg := config.Tools{Builtin: []string{tools.ToolGetCurrentTime}, Timezone: "UTC"}
	mgr, err := session.NewManager(cfg, testVAD(), tcfg,
		session.Plugins{STT: &sessiontest.STT{}, LLM: llm, TTS: &sessiontest.TTS{WordDuration: 100 * time.Millisecond}},
		nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), append([]session.Option{session.WithClock(clock)}, opts...)...)
	require.NoError(b, err)
	res, err := mgr.Reserve("127.0.0.1")
	require.NoError(b, err)
	sink := newRecSink()
	s, err := mgr.Start(context.Background(), res, session.StartParams{Sink: sink})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		require.NoError(b, s.Handle(ctx, session.InputText{Text: "what time is it"}))
		for done := false; !done; {
			select {
			case v := <-sink.out:
				switch v.(type) {
				case frame:
					clock.Advance(audio.FrameDuration) // the listener plays it
				case session.Metrics:
					done = true // the turn's last event: its span has ended
				}
			case <-time.After(10 * time.Second):
				b.Fatal("turn not done")
			}
		}
	}
	b.StopTimer()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(b, mgr.Drain(dctx))
}
