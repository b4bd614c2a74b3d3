package pluginhost

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

const (
	testTimeout = 10 * time.Second
	frameBytes  = 640
	// restartDeadline is how fast a crashed plugin must serve again.
	restartDeadline = time.Second
	// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
	prSetChildSubreaper = 36
)

func testRes() config.Resilience {
	return config.Resilience{
		Breaker: config.Breaker{ConsecutiveFailures: 3, OpenTimeout: 200 * time.Millisecond, HalfOpenRequests: 1},
		Retry:   config.Retry{MaxAttempts: 2, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Multiplier: 2},
	}
}

func inst(name string, kind config.PluginKind, settings map[string]any, args ...string) config.Instance {
	return config.Instance{
		Name:         name,
		Kind:         kind,
		Path:         faultPluginPath,
		Args:         append([]string{"-kind", string(kind)}, args...),
		Config:       settings,
		StartTimeout: testTimeout,
		Restart:      config.Restart{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond},
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fixture is a started Host whose plugin processes are checked to be gone
// after Close.
type fixture struct {
	t   *testing.T
	h   *Host
	reg *prometheus.Registry
	mu  sync.Mutex
	pid map[int]bool
}

func newHost(t *testing.T, instances []config.Instance, pipeline config.Pipeline, res config.Resilience) (*Host, error) {
	t.Helper()
	return New(config.Plugins{Instances: instances, HealthInterval: 100 * time.Millisecond},
		res, pipeline, prometheus.NewRegistry(), testLogger(t))
}

func start(t *testing.T, instances []config.Instance, pipeline config.Pipeline, res config.Resilience) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := New(config.Plugins{Instances: instances, HealthInterval: 100 * time.Millisecond},
		res, pipeline, reg, testLogger(t))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, h.Start(ctx))
	f := &fixture{t: t, h: h, reg: reg, pid: map[int]bool{}}
	f.pids()
	t.Cleanup(func() {
		f.pids()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		require.NoError(t, h.Close(ctx))
		for pid := range f.pid {
			assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "plugin pid %d still exists after Close", pid)
		}
		assert.Empty(t, childPIDs(t), "child processes left after Close")
	})
	return f
}

// pids records and returns the current pid of each plugin.
func (f *fixture) pids() map[string]int {
	out := map[string]int{}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.h.Status() {
		if s.PID > 0 {
			f.pid[s.PID] = true
			out[s.Name] = s.PID
		}
	}
	return out
}

func (f *fixture) status(name string) Status {
	for _, s := range f.h.Status() {
		if s.Name == name {
			return s
		}
	}
	f.t.Fatalf("no plugin %s", name)
	return Status{}
}

func isCode(err error, c sdk.Code) bool { return errors.Is(err, &sdk.Error{Code: c}) }

func generate(ctx context.Context, llm sdk.LLM, text string) (string, error) {
	s, err := llm.Generate(ctx, sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: text}}})
	if err != nil {
		return "", err
	}
	var out []string
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return strings.Join(out, " "), nil
		}
		if err != nil {
			return strings.Join(out, " "), err
		}
		if ev.TextDelta != "" {
			out = append(out, ev.TextDelta)
		}
	}
}

// transcribe sends frames then a flush and returns the final transcript.
func transcribe(ctx context.Context, stt sdk.STT, frames int) (string, error) {
	s, err := stt.Transcribe(ctx, sdk.STTConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE})
	if err != nil {
		return "", err
	}
	frame := make([]byte, frameBytes)
	for range frames {
		if err := s.SendAudio(frame); err != nil {
			return "", err
		}
	}
	if err := s.Flush(); err != nil {
		return "", err
	}
	if err := s.CloseSend(); err != nil {
		return "", err
	}
	var final string
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return final, nil
		}
		if err != nil {
			return final, err
		}
		if ev.Final {
			final = ev.Text
		}
	}
}

func synthesize(ctx context.Context, tts sdk.TTS, texts ...string) (int, error) {
	s, err := tts.Synthesize(ctx, sdk.TTSConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE})
	if err != nil {
		return 0, err
	}
	for _, text := range texts {
		if err := s.SendText(text); err != nil {
			return 0, err
		}
	}
	if err := s.CloseSend(); err != nil {
		return 0, err
	}
	n := 0
	for {
		c, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += len(c.PCM)
	}
}

func TestStartServesEveryKind(t *testing.T) {
	f := start(t, []config.Instance{
		inst("stt1", config.KindSTT, nil),
		inst("llm1", config.KindLLM, nil),
		inst("tts1", config.KindTTS, nil),
	}, config.Pipeline{STT: []string{"stt1"}, LLM: []string{"llm1"}, TTS: []string{"tts1"}}, testRes())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	assert.Empty(t, f.h.Ready())
	for _, s := range f.h.Status() {
		assert.Equal(t, StateRunning, s.State, s.Name)
		assert.Positive(t, s.PID, s.Name)
		assert.Equal(t, "1.2.3", s.Version, s.Name)
		assert.Equal(t, "closed", s.Breaker, s.Name)
		assert.Zero(t, s.Restarts, s.Name)
	}
	raw, err := json.Marshal(f.h.Status()[0])
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"state":"running"`)

	final, err := transcribe(ctx, f.h.STT(), 3)
	require.NoError(t, err)
	assert.Equal(t, "final:1920", final)

	text, err := generate(ctx, f.h.LLM(), "hello there")
	require.NoError(t, err)
	assert.Equal(t, "hello there", text)

	n, err := synthesize(ctx, f.h.TTS(), "hi", "you")
	require.NoError(t, err)
	assert.Equal(t, 10, n)

	info, err := f.h.LLM().Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, sdk.KindLLM, info.Kind)
	assert.Equal(t, 1.0, testutil.ToFloat64(f.h.instances[0].metrics.up.WithLabelValues("stt1")))
}

func TestStartRefuses(t *testing.T) {
	sum := sha256.New()
	bin, err := os.ReadFile(faultPluginPath)
	require.NoError(t, err)
	sum.Write(bin)
	goodSum := hex.EncodeToString(sum.Sum(nil))
	badSum := strings.Repeat("ab", sha256.Size)

	tests := []struct {
		name    string
		inst    config.Instance
		wantErr error
		want    []string
	}{
		{
			name:    "wrong sha256",
			inst:    func() config.Instance { i := inst("pinned", config.KindSTT, nil); i.SHA256 = badSum; return i }(),
			wantErr: ErrChecksumMismatch,
			want:    []string{"pinned", badSum, goodSum},
		},
		{
			name:    "other protocol version",
			inst:    inst("future", config.KindSTT, nil, "-protocol", "2"),
			wantErr: ErrProtocolVersion,
			want:    []string{"future", "Plugin version: 2", "protocol version 1"},
		},
		{
			name: "never handshakes",
			inst: func() config.Instance {
				i := inst("mute", config.KindSTT, nil, "-nohandshake")
				i.StartTimeout = 300 * time.Millisecond
				return i
			}(),
			wantErr: ErrStartTimeout,
			want:    []string{"mute", "300ms"},
		},
		{
			name:    "wrong kind",
			inst:    func() config.Instance { i := inst("confused", config.KindSTT, nil); i.Kind = config.KindLLM; return i }(),
			wantErr: ErrKindMismatch,
			want:    []string{"confused", "llm"},
		},
		{
			name: "configure fails",
			inst: inst("picky", config.KindSTT, map[string]any{"configure_error": "invalid_argument"}),
			want: []string{"picky", "configure", "told to fail"},
		},
		{
			name: "missing binary",
			inst: func() config.Instance {
				i := inst("ghost", config.KindSTT, nil)
				i.Path = filepath.Join(t.TempDir(), "nope")
				return i
			}(),
			want: []string{"ghost", "nope"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pipeline config.Pipeline
			h, err := newHost(t, []config.Instance{tt.inst, inst("fine", config.KindTTS, nil)}, pipeline, testRes())
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			err = h.Start(ctx)
			require.Error(t, err)
			t.Logf("start error: %v", err)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "plugin fine", "only the failing plugin is named")
			require.NoError(t, h.Close(ctx))
			assert.Empty(t, childPIDs(t), "no plugin process survives a failed start")
		})
	}

	t.Run("right sha256 starts", func(t *testing.T) {
		i := inst("pinned", config.KindSTT, nil)
		i.SHA256 = goodSum
		f := start(t, []config.Instance{i}, config.Pipeline{STT: []string{"pinned"}}, testRes())
		assert.Empty(t, f.h.Ready())
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name      string
		instances []config.Instance
		pipeline  config.Pipeline
		wantErr   error
	}{
		{"duplicate name", []config.Instance{inst("a", config.KindSTT, nil), inst("a", config.KindSTT, nil)}, config.Pipeline{}, ErrInvalidConfig},
		{"unknown pipeline member", []config.Instance{inst("a", config.KindSTT, nil)}, config.Pipeline{STT: []string{"b"}}, ErrUnknownPlugin},
		{"member of another kind", []config.Instance{inst("a", config.KindSTT, nil)}, config.Pipeline{TTS: []string{"a"}}, ErrUnknownPlugin},
		{"bad sha256", []config.Instance{func() config.Instance { i := inst("a", config.KindSTT, nil); i.SHA256 = "xyz"; return i }()}, config.Pipeline{}, ErrInvalidConfig},
		{"bad kind", []config.Instance{func() config.Instance { i := inst("a", config.KindSTT, nil); i.Kind = "vad"; return i }()}, config.Pipeline{}, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newHost(t, tt.instances, tt.pipeline, testRes())
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestSIGKILLMidStreamRestarts(t *testing.T) {
	f := start(t, []config.Instance{inst("stt1", config.KindSTT, nil)}, config.Pipeline{STT: []string{"stt1"}}, testRes())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	s, err := f.h.STT().Transcribe(ctx, sdk.STTConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE, InterimResults: true})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio(make([]byte, frameBytes)))
	ev, err := s.Recv()
	require.NoError(t, err)
	assert.Equal(t, "640", ev.Text)

	oldPID := f.pids()["stt1"]
	require.Positive(t, oldPID)
	require.NoError(t, syscall.Kill(oldPID, syscall.SIGKILL))
	killed := time.Now()

	_, err = s.Recv()
	require.Error(t, err)
	assert.True(t, isCode(err, sdk.CodeUnavailable), "mid-stream crash must read Unavailable, got %v", err)

	require.Eventually(t, func() bool {
		st := f.status("stt1")
		return st.State == StateRunning && st.PID != oldPID
	}, restartDeadline, 5*time.Millisecond, "plugin back within %s", restartDeadline)
	final, err := transcribe(ctx, f.h.STT(), 2)
	require.NoError(t, err)
	assert.Equal(t, "final:1280", final)
	t.Logf("crash to serving again: %s", time.Since(killed))
	assert.LessOrEqual(t, time.Since(killed), restartDeadline)

	st := f.status("stt1")
	assert.Equal(t, 1, st.Restarts)
	assert.NotEmpty(t, st.LastError)
	assert.False(t, alive(oldPID))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.h.instances[0].metrics.restarts.WithLabelValues("stt1")))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.h.instances[0].metrics.up.WithLabelValues("stt1")))
	f.pids()
}

func TestCrashAfterOutputPassesThroughAsUnavailable(t *testing.T) {
	f := start(t, []config.Instance{
		inst("a", config.KindLLM, map[string]any{"label": "a:"}),
		inst("b", config.KindLLM, map[string]any{"label": "b:"}),
	}, config.Pipeline{LLM: []string{"a", "b"}}, testRes())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	oldPID := f.pids()["a"]

	s, err := f.h.LLM().Generate(ctx, sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "STALL"}}})
	require.NoError(t, err)
	ev, err := s.Recv()
	require.NoError(t, err)
	assert.Equal(t, "a:stalling", ev.TextDelta)
	require.NoError(t, syscall.Kill(oldPID, syscall.SIGKILL))
	_, err = s.Recv()
	require.Error(t, err)
	assert.True(t, isCode(err, sdk.CodeUnavailable), "no fallback after output; the crash reads Unavailable, got %v", err)

	require.Eventually(t, func() bool {
		st := f.status("a")
		return st.State == StateRunning && st.PID != oldPID
	}, restartDeadline, 5*time.Millisecond)
	f.pids()
}

func TestPoisonInputCrashEndsUnavailable(t *testing.T) {
	f := start(t, []config.Instance{inst("stt1", config.KindSTT, nil)}, config.Pipeline{STT: []string{"stt1"}}, testRes())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	oldPID := f.pids()["stt1"]
	s, err := f.h.STT().Transcribe(ctx, sdk.STTConfig{SampleRate: 16000, InterimResults: true})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio([]byte("CRASH")))
	_, err = s.Recv()
	require.Error(t, err)
	assert.True(t, isCode(err, sdk.CodeUnavailable), "got %v", err)
	require.Eventually(t, func() bool {
		st := f.status("stt1")
		return st.State == StateRunning && st.PID != oldPID
	}, testTimeout, 5*time.Millisecond)
	f.pids()
	final, err := transcribe(ctx, f.h.STT(), 1)
	require.NoError(t, err)
	assert.Equal(t, "final:640", final)
	f.pids()
}

func TestFailureBeforeOutputReplaysToFallback(t *testing.T) {
	failFirst := map[string]any{"label": "a:", "fail_on_input_code": "unavailable"}
	ok := map[string]any{"label": "b:"}
	f := start(t, []config.Instance{
		inst("sa", config.KindSTT, failFirst), inst("sb", config.KindSTT, ok),
		inst("la", config.KindLLM, failFirst), inst("lb", config.KindLLM, ok),
		inst("ta", config.KindTTS, failFirst), inst("tb", config.KindTTS, ok),
	}, config.Pipeline{STT: []string{"sa", "sb"}, LLM: []string{"la", "lb"}, TTS: []string{"ta", "tb"}}, testRes())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	t.Run("stt", func(t *testing.T) {
		final, err := transcribe(ctx, f.h.STT(), 5)
		require.NoError(t, err)
		assert.Equal(t, "b:final:3200", final, "every frame sent before the failure reached the fallback")
	})
	t.Run("llm", func(t *testing.T) {
		text, err := generate(ctx, f.h.LLM(), "hello")
		require.NoError(t, err)
		assert.Equal(t, "b:hello", text)
	})
	t.Run("tts", func(t *testing.T) {
		s, err := f.h.TTS().Synthesize(ctx, sdk.TTSConfig{SampleRate: 16000})
		require.NoError(t, err)
		for _, text := range []string{"one ", "two ", "three"} {
			require.NoError(t, s.SendText(text))
		}
		require.NoError(t, s.CloseSend())
		var spans [][2]int
		for {
			c, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			assert.Equal(t, "b:", string(c.PCM[:2]))
			spans = append(spans, [2]int{c.TextStart, c.TextEnd})
		}
		assert.Equal(t, [][2]int{{0, 4}, {4, 8}, {8, 13}}, spans)
	})
	for _, name := range []string{"sa", "la", "ta"} {
		assert.Positive(t, testutil.ToFloat64(f.h.instances[0].metrics.callErrors.WithLabelValues(name, "unavailable")), name)
	}
}

func TestErrorCodesCrossTheWire(t *testing.T) {
	res := testRes()
	res.Retry.MaxAttempts = 1
	res.Breaker.ConsecutiveFailures = 1000
	f := start(t, []config.Instance{inst("llm1", config.KindLLM, nil)}, config.Pipeline{LLM: []string{"llm1"}}, res)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	codes := []sdk.Code{
		sdk.CodeInvalidArgument, sdk.CodeDeadlineExceeded, sdk.CodeNotFound, sdk.CodePermissionDenied,
		sdk.CodeResourceExhausted, sdk.CodeFailedPrecondition, sdk.CodeUnimplemented, sdk.CodeInternal,
		sdk.CodeUnavailable, sdk.CodeUnauthenticated, sdk.CodeCanceled,
	}
	for _, c := range codes {
		t.Run(string(c), func(t *testing.T) {
			_, err := generate(ctx, f.h.LLM(), "ERR:"+string(c))
			require.Error(t, err)
			assert.True(t, isCode(err, c), "want %s in %v", c, err)
		})
	}
	assert.Equal(t, "closed", f.status("llm1").Breaker)
}

func TestCallerErrorsDoNotFallBackOrTrip(t *testing.T) {
	res := testRes()
	res.Breaker.ConsecutiveFailures = 1
	f := start(t, []config.Instance{
		inst("a", config.KindLLM, map[string]any{"label": "a:"}),
		inst("b", config.KindLLM, map[string]any{"label": "b:"}),
	}, config.Pipeline{LLM: []string{"a", "b"}}, res)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for range 3 {
		_, err := generate(ctx, f.h.LLM(), "ERR:invalid_argument")
		require.Error(t, err)
		assert.True(t, isCode(err, sdk.CodeInvalidArgument))
	}
	assert.Equal(t, "closed", f.status("a").Breaker)
	text, err := generate(ctx, f.h.LLM(), "still me")
	require.NoError(t, err)
	assert.Equal(t, "a:still a:me", text)
}

func TestBreakerOpensFallsBackAndRecovers(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "failing")
	require.NoError(t, os.WriteFile(flag, nil, 0o600))
	res := testRes()
	res.Retry.MaxAttempts = 1
	res.Breaker = config.Breaker{ConsecutiveFailures: 2, OpenTimeout: 300 * time.Millisecond, HalfOpenRequests: 1}
	f := start(t, []config.Instance{
		inst("a", config.KindLLM, map[string]any{"label": "a:", "fail_while_exists": flag, "fail_code": "unavailable"}),
		inst("b", config.KindLLM, map[string]any{"label": "b:"}),
	}, config.Pipeline{LLM: []string{"a", "b"}}, res)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	errorsOf := func() float64 {
		return testutil.ToFloat64(f.h.instances[0].metrics.callErrors.WithLabelValues("a", "unavailable"))
	}

	for i := range 2 {
		text, err := generate(ctx, f.h.LLM(), "hi")
		require.NoError(t, err)
		assert.Equal(t, "b:hi", text, "call %d served by the fallback", i)
	}
	assert.Equal(t, "open", f.status("a").Breaker)
	assert.Equal(t, 2.0, errorsOf())

	text, err := generate(ctx, f.h.LLM(), "hi")
	require.NoError(t, err)
	assert.Equal(t, "b:hi", text)
	assert.Equal(t, 2.0, errorsOf(), "an open breaker does not call the plugin")
	assert.Equal(t, 1.0, testutil.ToFloat64(f.h.instances[0].metrics.callErrors.WithLabelValues("a", "breaker_open")))
	assert.Equal(t, 2.0, testutil.ToFloat64(f.h.instances[0].metrics.breaker.WithLabelValues("a")))

	require.NoError(t, os.Remove(flag))
	require.Eventually(t, func() bool { return f.status("a").Breaker == "half-open" }, testTimeout, 10*time.Millisecond)
	text, err = generate(ctx, f.h.LLM(), "hi")
	require.NoError(t, err)
	assert.Equal(t, "a:hi", text, "the half-open trial call goes to the recovered plugin")
	assert.Equal(t, "closed", f.status("a").Breaker)
	assert.Equal(t, 0.0, testutil.ToFloat64(f.h.instances[0].metrics.breaker.WithLabelValues("a")))
}

func TestAllPluginsDownIsUnavailable(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "failing")
	require.NoError(t, os.WriteFile(flag, nil, 0o600))
	f := start(t, []config.Instance{
		inst("a", config.KindTTS, map[string]any{"fail_while_exists": flag}),
		inst("b", config.KindTTS, map[string]any{"fail_while_exists": flag, "fail_code": "resource_exhausted"}),
	}, config.Pipeline{TTS: []string{"a", "b"}}, testRes())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := synthesize(ctx, f.h.TTS(), "hello")
	require.Error(t, err)
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err))
	assert.True(t, isCode(err, sdk.CodeResourceExhausted), "the members' errors are kept: %v", err)
	assert.Contains(t, err.Error(), "a, b")
}

func TestEmptyPipelineIsUnavailable(t *testing.T) {
	f := start(t, nil, config.Pipeline{}, testRes())
	_, err := f.h.STT().Transcribe(context.Background(), sdk.STTConfig{})
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err))
	assert.Empty(t, f.h.Ready())
}

func TestHangAndStallEndWithTheCaller(t *testing.T) {
	f := start(t, []config.Instance{
		inst("llm1", config.KindLLM, nil), inst("stt1", config.KindSTT, nil),
	}, config.Pipeline{LLM: []string{"llm1"}, STT: []string{"stt1"}}, testRes())

	t.Run("hang until the caller's deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := generate(ctx, f.h.LLM(), "HANG")
		require.Error(t, err)
		assert.True(t, isCode(err, sdk.CodeDeadlineExceeded), "got %v", err)
	})
	t.Run("stall mid-stream until cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, err := f.h.STT().Transcribe(ctx, sdk.STTConfig{SampleRate: 16000})
		require.NoError(t, err)
		require.NoError(t, s.SendAudio([]byte("STALL")))
		_, err = s.Recv()
		require.NoError(t, err)
		cancel()
		_, err = s.Recv()
		require.Error(t, err)
		assert.True(t, isCode(err, sdk.CodeCanceled), "got %v", err)
	})
	assert.Equal(t, "closed", f.status("llm1").Breaker)
	assert.Equal(t, StateRunning, f.status("llm1").State, "a slow call is not a dead plugin")
	assert.Zero(t, f.status("llm1").Restarts)
}

func TestFrozenPluginIsRestarted(t *testing.T) {
	f := start(t, []config.Instance{inst("tts1", config.KindTTS, nil)}, config.Pipeline{TTS: []string{"tts1"}}, testRes())
	old := f.pids()["tts1"]
	require.NoError(t, syscall.Kill(old, syscall.SIGSTOP))
	require.Eventually(t, func() bool {
		st := f.status("tts1")
		return st.State == StateRunning && st.PID != old
	}, testTimeout, 10*time.Millisecond)
	assert.Contains(t, f.status("tts1").LastError, "health check")
	assert.False(t, alive(old))
	f.pids()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := synthesize(ctx, f.h.TTS(), "back")
	require.NoError(t, err)
}

func TestRestartLimitLeavesPluginFailed(t *testing.T) {
	i := inst("stt1", config.KindSTT, nil)
	i.Restart = config.Restart{MaxRestarts: 1, Window: time.Minute, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	f := start(t, []config.Instance{i}, config.Pipeline{STT: []string{"stt1"}}, testRes())
	for range 2 {
		pid := f.pids()["stt1"]
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		require.Eventually(t, func() bool {
			st := f.status("stt1")
			return st.PID != pid && st.State != StateRestarting
		}, testTimeout, 5*time.Millisecond)
	}
	st := f.status("stt1")
	assert.Equal(t, StateFailed, st.State)
	assert.Contains(t, st.LastError, "giving up")
	reasons := f.h.Ready()
	require.Len(t, reasons, 1)
	assert.Contains(t, reasons[0], "stt1")
	assert.Contains(t, reasons[0], "failed")
	_, err := f.h.STT().Transcribe(context.Background(), sdk.STTConfig{})
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err))
}

func TestCloseBeforeStartAndTwice(t *testing.T) {
	h, err := newHost(t, []config.Instance{inst("a", config.KindSTT, nil)}, config.Pipeline{}, testRes())
	require.NoError(t, err)
	assert.Equal(t, []string{"plugin host not started"}, h.Ready())
	require.NoError(t, h.Close(context.Background()))
	require.NoError(t, h.Close(context.Background()))
	require.ErrorIs(t, h.Start(context.Background()), ErrNotStarted)
}

func TestHostDeathKillsPlugins(t *testing.T) {
	// Orphans of the helper are re-parented to us, so we can reap them and
	// see them gone rather than as zombies of an unreaping init.
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	require.Zero(t, errno)

	exe, err := os.Executable()
	require.NoError(t, err)
	helper := exec.Command(exe, "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"="+faultPluginPath)
	out, err := helper.StdoutPipe()
	require.NoError(t, err)
	helper.Stderr = t.Output()
	require.NoError(t, helper.Start())
	line := readLine(t, bufio.NewReader(out), testTimeout)
	pid, err := strconv.Atoi(line)
	require.NoError(t, err, "helper printed %q", line)
	require.True(t, alive(pid))

	require.NoError(t, helper.Process.Kill())
	_ = helper.Wait()
	require.Eventually(t, func() bool {
		var ws syscall.WaitStatus
		got, werr := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if errors.Is(werr, syscall.ECHILD) {
			return !alive(pid) // not re-parented to us: init reaps it
		}
		return got == pid
	}, testTimeout, 10*time.Millisecond, "plugin %d must die with its host", pid)
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestPluginSeesOnlyItsEnv(t *testing.T) {
	t.Setenv("PARLEY_TEST_HOST_ONLY", "leak")
	i := inst("stt1", config.KindSTT, nil)
	i.Env = []string{"PARLEY_TEST_SECRET"}
	i.EnvValues = map[string]string{"PARLEY_TEST_SECRET": "s3cret"}
	f := start(t, []config.Instance{i}, config.Pipeline{STT: []string{"stt1"}}, testRes())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := f.h.STT().Transcribe(ctx, sdk.STTConfig{SampleRate: 16000})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio([]byte("ENV")))
	ev, err := s.Recv()
	require.NoError(t, err)
	names := strings.Split(ev.Text, ",")
	assert.Contains(t, names, "PARLEY_TEST_SECRET")
	for _, n := range names {
		ok := n == "PARLEY_TEST_SECRET" || strings.HasPrefix(n, "PLUGIN_") || n == "PARLEY_PLUGIN"
		assert.True(t, ok, "unexpected variable %s reached the plugin", n)
	}
}

func TestRestartDoesNotTripBreaker(t *testing.T) {
	res := testRes()
	res.Breaker.ConsecutiveFailures = 1
	res.Retry.MaxAttempts = 1
	i := inst("llm1", config.KindLLM, nil)
	i.Restart = config.Restart{InitialBackoff: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	f := start(t, []config.Instance{i}, config.Pipeline{LLM: []string{"llm1"}}, res)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	old := f.pids()["llm1"]
	require.NoError(t, syscall.Kill(old, syscall.SIGKILL))
	require.Eventually(t, func() bool { return f.status("llm1").State == StateRestarting }, testTimeout, time.Millisecond)

	_, err := generate(ctx, f.h.LLM(), "hi")
	require.Error(t, err)
	assert.True(t, isCode(err, sdk.CodeUnavailable), "got %v", err)
	assert.Contains(t, err.Error(), "restarting")
	assert.Equal(t, "closed", f.status("llm1").Breaker, "a plugin being restarted is skipped, not counted")

	require.Eventually(t, func() bool { return f.status("llm1").State == StateRunning }, testTimeout, 5*time.Millisecond)
	f.pids()
	text, err := generate(ctx, f.h.LLM(), "hi")
	require.NoError(t, err)
	assert.Equal(t, "hi", text)
}

func TestCrashBeforeOutputReplaysToRestartedPlugin(t *testing.T) {
	res := testRes()
	res.Retry = config.Retry{MaxAttempts: 20, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Multiplier: 2}
	res.Breaker.ConsecutiveFailures = 1
	f := start(t, []config.Instance{inst("stt1", config.KindSTT, nil)}, config.Pipeline{STT: []string{"stt1"}}, res)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	s, err := f.h.STT().Transcribe(ctx, sdk.STTConfig{SampleRate: 16000})
	require.NoError(t, err)
	frame := make([]byte, frameBytes)
	require.NoError(t, s.SendAudio(frame))
	require.NoError(t, s.SendAudio(frame))
	old := f.pids()["stt1"]
	require.NoError(t, syscall.Kill(old, syscall.SIGKILL))
	require.NoError(t, s.SendAudio(frame), "input before any output is kept, not failed")
	require.NoError(t, s.Flush())
	require.NoError(t, s.CloseSend())

	ev, err := s.Recv()
	require.NoError(t, err)
	assert.Equal(t, "final:1920", ev.Text, "every frame reached the restarted plugin")
	assert.NotEqual(t, old, f.pids()["stt1"])
	assert.Equal(t, "closed", f.status("stt1").Breaker, "a crash is the supervisor's business, not the breaker's")
}

// syncBuffer is a bytes.Buffer safe for a slog handler and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCloseLogsPluginStoppedAtInfo: plugins Parley stops on shutdown are
// logged as "plugin stopped" at Info; nothing is logged at Error. Each
// plugin runs in its own process group, so a signal to Parley's group
// (Ctrl-C) does not kill it under Parley.
func TestCloseLogsPluginStoppedAtInfo(t *testing.T) {
	var out syncBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := New(config.Plugins{Instances: []config.Instance{
		inst("stt1", config.KindSTT, nil), inst("tts1", config.KindTTS, nil),
	}, HealthInterval: 100 * time.Millisecond}, testRes(), config.Pipeline{STT: []string{"stt1"}, TTS: []string{"tts1"}},
		prometheus.NewRegistry(), logger)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, h.Start(ctx))
	for _, s := range h.Status() {
		require.Positive(t, s.PID)
		pgid, err := syscall.Getpgid(s.PID)
		require.NoError(t, err)
		assert.Equal(t, s.PID, pgid, "plugin %s leads its own process group", s.Name)
		assert.NotEqual(t, syscall.Getpgrp(), pgid)
	}
	require.NoError(t, h.Close(ctx))

	var stopped int
	for line := range strings.Lines(out.String()) {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		assert.NotEqual(t, "ERROR", rec.Level, "logged at Error on a normal shutdown: %s", line)
		if rec.Msg == "plugin stopped" {
			assert.Equal(t, "INFO", rec.Level)
			stopped++
		}
		assert.NotEqual(t, "plugin process exited", rec.Msg, "a plugin Parley stops is logged as stopped: %s", line)
	}
	assert.Equal(t, 2, stopped, "one \"plugin stopped\" per plugin:\n%s", out.String())
}

// TestFirstOutputTimeoutFallsBack: a plugin that accepts a call and then
// never answers is cut off after resilience.first_output for its kind,
// counted, not retried, and the call falls back (with its input replayed)
// to the next plugin in the chain.
func TestFirstOutputTimeoutFallsBack(t *testing.T) {
	res := testRes()
	cut := 100 * time.Millisecond
	res.FirstOutput = config.FirstOutput{STT: cut, LLM: cut, TTS: cut}
	hung := map[string]any{"hang": true}
	ok := map[string]any{"label": "ok:"}
	f := start(t, []config.Instance{
		inst("stt-hung", config.KindSTT, hung), inst("stt-ok", config.KindSTT, ok),
		inst("llm-hung", config.KindLLM, hung), inst("llm-ok", config.KindLLM, ok),
		inst("tts-hung", config.KindTTS, hung), inst("tts-ok", config.KindTTS, ok),
	}, config.Pipeline{STT: []string{"stt-hung", "stt-ok"}, LLM: []string{"llm-hung", "llm-ok"}, TTS: []string{"tts-hung", "tts-ok"}}, res)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	text, err := transcribe(ctx, f.h.STT(), 3)
	require.NoError(t, err)
	assert.Equal(t, "ok:final:1920", text, "the fallback got the whole replayed input")

	reply, err := generate(ctx, f.h.LLM(), "hello there")
	require.NoError(t, err)
	assert.Equal(t, "ok:hello ok:there", reply)

	n, err := synthesize(ctx, f.h.TTS(), "hi")
	require.NoError(t, err)
	assert.Equal(t, 4, n)

	for _, name := range []string{"stt-hung", "llm-hung", "tts-hung"} {
		assert.InDelta(t, 1, testutil.ToFloat64(f.h.instances[0].metrics.firstOutputTimeouts.WithLabelValues(name)), 0,
			"%s: one timeout counted (not retried on the hung instance)", name)
		assert.Equal(t, StateRunning, f.status(name).State, "a hung call is not a dead plugin")
	}
}
