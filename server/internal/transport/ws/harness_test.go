package ws_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1/parleyv1test"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/tools"
	"github.com/parleyhq/parley/server/internal/transport/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds how long a test waits for an expected message; it is a
// failure guard, not a synchronisation sleep.
const waitFor = 20 * time.Second

const frameDur = 20 * time.Millisecond

// setup tunes a harness before it starts.
type setup struct {
	session config.Session
	vad     config.VAD
	ws      config.WebSocket
	tools   config.Tools
	auth    config.Auth
	// guard is the memory guard (nil: never overloaded).
	guard session.MemoryGuard
	// opts are more session manager options (turn-taking).
	opts []session.Option
}

type harness struct {
	t     testing.TB
	clock *sessiontest.ManualClock
	stt   *sessiontest.STT
	llm   *sessiontest.LLM
	tts   *sessiontest.TTS
	mgr   *session.Manager
	srv   *httptest.Server
	reg   *prometheus.Registry
	url   string
	// schemas validate every JSON event any test client receives.
	schemas parleyv1test.Schemas
}

func defaultSetup() *setup {
	return &setup{
		session: config.Session{
			MaxSessions: 10, MaxSessionsPerIP: 5, SystemPrompt: "You are a test agent.", Voice: "slt", Language: "en",
			OutputSampleRate: 16000, InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 3,
			ClientToolTimeout: 10 * time.Second, MaxHistory: 50, OutputLookahead: 100 * time.Millisecond,
		},
		vad: config.VAD{
			MinSpeech: 100 * time.Millisecond, MinSilence: 300 * time.Millisecond, PreRoll: 200 * time.Millisecond,
			MinSilenceMin: 100 * time.Millisecond, MinSilenceMax: 2 * time.Second,
			ThresholdMin: 6, ThresholdMax: 24, MinSpeechMin: 60 * time.Millisecond, MinSpeechMax: 500 * time.Millisecond,
		},
		ws:    config.WebSocket{MaxMessageBytes: 8192, MaxMessagesPerSecond: 100000, SendBuffer: 4096, WriteTimeout: 10 * time.Second},
		tools: config.Tools{Builtin: []string{tools.ToolGetCurrentTime, tools.ToolEndSession, tools.ToolCalculator}, Timezone: "UTC"},
	}
}

var testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newHarness(t testing.TB, llm *sessiontest.LLM, tune func(*setup)) *harness {
	t.Helper()
	s := defaultSetup()
	if tune != nil {
		tune(s)
	}
	h := &harness{
		t: t, clock: sessiontest.NewManualClock(testStart), reg: prometheus.NewRegistry(),
		stt: &sessiontest.STT{}, llm: llm, tts: &sessiontest.TTS{}, schemas: parleyv1test.Load(t),
	}
	logger := slog.New(slog.DiscardHandler)
	mgr, err := session.NewManager(s.session, s.vad, s.tools, session.Plugins{STT: h.stt, LLM: h.llm, TTS: h.tts},
		s.guard, h.reg, logger, append([]session.Option{session.WithClock(h.clock)}, s.opts...)...)
	require.NoError(t, err)
	h.mgr = mgr
	h.srv = httptest.NewServer(ws.New(s.ws, s.auth, mgr, logger))
	h.url = "ws" + strings.TrimPrefix(h.srv.URL, "http")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, h.mgr.Drain(ctx))
		h.srv.Close()
	})
	return h
}

// msg is one message received by a test client.
type msg struct {
	typ  websocket.MessageType
	data []byte
	err  error
}

// event is a decoded JSON event.
type event map[string]any

func (e event) str(k string) string { s, _ := e[k].(string); return s }

func (e event) num(k string) float64 { f, _ := e[k].(float64); return f }

type client struct {
	t    testing.TB
	h    *harness
	c    *websocket.Conn
	in   chan msg
	wg   sync.WaitGroup
	id   session.SessionID
	sent []event // every JSON event received, in order (for schema checks)
	mu   sync.Mutex
}

// dial connects; read starts the reader goroutine unless paused.
func (h *harness) dial(read bool) *client {
	return h.dialWith(read, &websocket.DialOptions{Subprotocols: []string{parleyv1.Version}})
}

// clientSocketBuffer is the kernel receive buffer of a "slow" test client,
// so that a client that stops reading is noticed after kilobytes, not
// after the tens of megabytes loopback autotuning allows.
const clientSocketBuffer = 8 << 10

// dialSmallBuffer connects a client that does not read, with a small socket buffer.
func (h *harness) dialSmallBuffer() *client {
	dialer := &net.Dialer{}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			if err := tcp.SetReadBuffer(clientSocketBuffer); err != nil {
				_ = conn.Close()
				return nil, err
			}
		}
		return conn, nil
	}}
	h.t.Cleanup(transport.CloseIdleConnections)
	return h.dialWith(false, &websocket.DialOptions{
		Subprotocols: []string{parleyv1.Version}, HTTPClient: &http.Client{Transport: transport},
	})
}

func (h *harness) dialWith(read bool, opts *websocket.DialOptions) *client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, h.url, opts)
	require.NoError(h.t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	require.Equal(h.t, parleyv1.Version, c.Subprotocol())
	c.SetReadLimit(1 << 20)
	cl := &client{t: h.t, h: h, c: c, in: make(chan msg, 1<<16)}
	h.t.Cleanup(func() {
		_ = c.CloseNow()
		cl.wg.Wait()
	})
	if read {
		cl.startReading()
		est := cl.expect(parleyv1.TypeConnectionEstablished)
		cl.id = session.SessionID(est.str("session_id"))
	}
	return cl
}

func (c *client) startReading() {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(c.in)
		for {
			typ, data, err := c.c.Read(context.Background())
			c.in <- msg{typ: typ, data: data, err: err}
			if err != nil {
				return
			}
		}
	}()
}

// next returns the next message.
func (c *client) next() msg {
	c.t.Helper()
	select {
	case m, ok := <-c.in:
		require.True(c.t, ok, "connection reader ended")
		if m.err == nil && m.typ == websocket.MessageText {
			var ev event
			require.NoError(c.t, json.Unmarshal(m.data, &ev), string(m.data))
			c.h.schemas.ValidateServer(c.t, m.data)
			c.mu.Lock()
			c.sent = append(c.sent, ev)
			c.mu.Unlock()
		}
		return m
	case <-time.After(waitFor):
		c.t.Fatalf("no message within %s", waitFor)
		return msg{}
	}
}

// trace is what a client saw while reading: JSON events and audio frames
// in order ("#audio" stands for a binary frame).
type trace struct {
	events []event
	order  []string
	frames [][]byte
}

func (tr *trace) types() []string {
	var out []string
	for _, o := range tr.order {
		if o != "#audio" && (len(out) == 0 || out[len(out)-1] != o || o != parleyv1.TypeTextDelta) {
			out = append(out, o)
		}
	}
	return out
}

func (tr *trace) first(typ string) event {
	for _, e := range tr.events {
		if e.str("type") == typ {
			return e
		}
	}
	return nil
}

// until reads until an event of type typ arrives. Each audio frame
// received advances the clock by one frame when play is set (the client
// "plays" it), which lets the pacer send the next one.
func (c *client) until(typ string, play bool) *trace {
	c.t.Helper()
	tr := &trace{}
	for {
		m := c.next()
		require.NoError(c.t, m.err, "while waiting for %s", typ)
		if m.typ == websocket.MessageBinary {
			tr.frames = append(tr.frames, m.data)
			tr.order = append(tr.order, "#audio")
			if play {
				c.h.clock.Advance(frameDur)
			}
			continue
		}
		var ev event
		require.NoError(c.t, json.Unmarshal(m.data, &ev))
		tr.events = append(tr.events, ev)
		tr.order = append(tr.order, ev.str("type"))
		if ev.str("type") == typ {
			return tr
		}
	}
}

func (c *client) expect(typ string) event {
	c.t.Helper()
	tr := c.until(typ, false)
	return tr.events[len(tr.events)-1]
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	c.sendRaw(websocket.MessageText, b)
}

func (c *client) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(c.t, c.c.Write(ctx, typ, b))
}

// ready sends session.update and waits for session.updated.
func (c *client) ready(update map[string]any) event {
	c.t.Helper()
	if update == nil {
		update = map[string]any{}
	}
	update["type"] = parleyv1.TypeSessionUpdate
	if _, ok := update["input_sample_rate"]; !ok {
		update["input_sample_rate"] = 16000
	}
	c.sendJSON(update)
	return c.expect(parleyv1.TypeSessionUpdated)
}

// audio sends samples (16 kHz) as 20 ms frames, advancing the clock one
// frame per frame sent: the microphone stream is the clock.
func (c *client) audio(samples []int16) {
	c.t.Helper()
	for _, f := range sessiontest.Frames(sessiontest.PCM(samples), audio.SampleRate) {
		c.sendRaw(websocket.MessageBinary, f)
		c.h.clock.Advance(frameDur)
	}
}

// utterance sends silence, speech of d, and end-of-turn silence.
func (c *client) utterance(d time.Duration) {
	c.audio(sessiontest.Silence(400*time.Millisecond, audio.SampleRate))
	c.audio(sessiontest.Speech(d, audio.SampleRate))
	c.audio(sessiontest.Silence(500*time.Millisecond, audio.SampleRate))
}

// history returns the session's history.
func (c *client) history() []sdk.Message {
	c.t.Helper()
	s, ok := c.h.mgr.Lookup(c.id)
	require.True(c.t, ok, "session %s not running", c.id)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return s.History(ctx)
}

// closeStatus reads until the connection ends and returns its close code.
func (c *client) closeStatus() websocket.StatusCode {
	c.t.Helper()
	for {
		m := c.next()
		if m.err != nil {
			return websocket.CloseStatus(m.err)
		}
	}
}

// words returns the reply's first n words joined like the text.
func words(text string, n int) string {
	return strings.Join(strings.Fields(text)[:n], " ")
}

// lastUser answers per conversation state: a scripted LLM.
func scripted(replies map[string][]sdk.GenerateEvent) *sessiontest.LLM {
	return &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		last := req.Messages[len(req.Messages)-1]
		key := last.Content
		if last.Role == sdk.RoleTool {
			key = "tool:" + last.Content
		}
		if ev, ok := replies[key]; ok {
			return ev, nil
		}
		if ev, ok := replies["*"]; ok {
			return ev, nil
		}
		return nil, sdk.Errorf(sdk.CodeInvalidArgument, "no scripted reply for %q", key)
	}}
}

func okHTTP(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
}

func sortStrings(s []string) { slices.Sort(s) }

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitFor)
}

func wsOriginPatterns(in []string) []string { return ws.OriginPatterns(in) }
