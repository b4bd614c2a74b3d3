package telephony_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/tools"
	"github.com/parleyhq/parley/server/internal/transport/telephony"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	waitFor   = 10 * time.Second
	frameDur  = audio.FrameDuration
	authToken = "test-auth-token"
	callSID   = "CA0123456789abcdef0123456789abcdef"
	accountID = "AC0123456789abcdef0123456789abcdef"
	streamSID = "MZ0123456789abcdef0123456789abcdef"
	caller    = "+15550001111"
	called    = "+15552223333"
)

var testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type setup struct {
	tel     config.Telephony
	session config.Session
	// wallClock runs sessions on the wall clock (load benchmarks) instead
	// of the manual clock the audio drives.
	wallClock bool
}

// harness is the real router with the telephony routes, real sessions and
// fake plugins; its clock moves with the caller's audio.
type harness struct {
	t     testing.TB
	clock *sessiontest.ManualClock
	llm   *sessiontest.LLM
	stt   *sessiontest.STT
	mgr   *session.Manager
	reg   *prometheus.Registry
	srv   *httptest.Server
	rest  *httptest.Server
	// restCalls receives the form of every Twilio REST request.
	restCalls chan url.Values
	restAuth  chan string
}

func newHarness(t testing.TB, llm *sessiontest.LLM, transcripts []string, tune func(*setup)) *harness {
	t.Helper()
	h := &harness{
		t: t, clock: sessiontest.NewManualClock(testStart), llm: llm, stt: &sessiontest.STT{Transcripts: transcripts},
		reg: prometheus.NewRegistry(), restCalls: make(chan url.Values, 4), restAuth: make(chan string, 4),
	}
	h.rest = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+accountID+"/Calls/"+callSID+".json" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		user, pass, _ := r.BasicAuth()
		h.restAuth <- user + ":" + pass
		h.restCalls <- r.PostForm
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"sid":"`+callSID+`","status":"completed"}`)
	}))
	t.Cleanup(h.rest.Close)
	s := &setup{
		tel: config.Telephony{
			Enabled: true, StartTimeout: 2 * time.Second, MaxMessagesPerSecond: 10000, TokenTTL: time.Minute,
			DTMFText: "The caller pressed %s.",
			Twilio:   config.Twilio{AuthToken: authToken, APIBaseURL: h.rest.URL},
		},
		session: config.Session{
			MaxSessions: 10, SystemPrompt: "You are a test agent.", Voice: "slt", Language: "en",
			OutputSampleRate: 16000, InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 3,
			ClientToolTimeout: 10 * time.Second, MaxHistory: 50, OutputLookahead: 100 * time.Millisecond,
		},
	}
	if tune != nil {
		tune(s)
	}
	vad := config.VAD{
		MinSpeech: 100 * time.Millisecond, MinSilence: 300 * time.Millisecond, PreRoll: 200 * time.Millisecond,
		MinSilenceMin: 100 * time.Millisecond, MinSilenceMax: 2 * time.Second,
		ThresholdMin: 6, ThresholdMax: 24, MinSpeechMin: 60 * time.Millisecond, MinSpeechMax: 500 * time.Millisecond,
	}
	var opts []session.Option
	if !s.wallClock {
		opts = append(opts, session.WithClock(h.clock))
	}
	mgr, err := session.NewManager(s.session, vad, config.Tools{Builtin: []string{tools.ToolEndSession}, Timezone: "UTC"},
		session.Plugins{STT: h.stt, LLM: llm, TTS: &sessiontest.TTS{WordDuration: 200 * time.Millisecond}},
		nil, h.reg, slog.New(slog.DiscardHandler), opts...)
	require.NoError(t, err)
	h.mgr = mgr
	r := chi.NewRouter()
	h.srv = httptest.NewUnstartedServer(r)
	h.srv.Start()
	s.tel.PublicURL = h.srv.URL
	tel, err := telephony.New(s.tel, config.WebSocket{SendBuffer: 4096, WriteTimeout: 5 * time.Second}, mgr, h.rest.Client(), h.reg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	tel.Routes(r)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, mgr.Drain(ctx))
		h.srv.Close()
	})
	return h
}

// twiml is the part of the webhook answer a carrier reads.
type twiml struct {
	Stream struct {
		URL    string `xml:"url,attr"`
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"Parameter"`
	} `xml:"Connect>Stream"`
	Hangup *struct{} `xml:"Hangup"`
}

// webhook posts Twilio's voice webhook, signed when sign is set.
func (h *harness) webhook(form url.Values, signature string) (*http.Response, twiml) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodPost, h.srv.URL+telephony.PathTwilioVoice, strings.NewReader(form.Encode()))
	require.NoError(h.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		req.Header.Set(telephony.HeaderTwilioSignature, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	var tw twiml
	if resp.StatusCode == http.StatusOK {
		require.NoError(h.t, xml.Unmarshal(body, &tw), string(body))
	}
	return resp, tw
}

func callForm() url.Values {
	return url.Values{"CallSid": {callSID}, "AccountSid": {accountID}, "From": {caller}, "To": {called}, "Direction": {"inbound"}}
}

func (h *harness) signedWebhook() twiml {
	h.t.Helper()
	form := callForm()
	resp, tw := h.webhook(form, telephony.TwilioSignature(authToken, h.srv.URL+telephony.PathTwilioVoice, form))
	require.Equal(h.t, http.StatusOK, resp.StatusCode)
	return tw
}

// phone plays Twilio's role on one media stream.
type phone struct {
	t   testing.TB
	h   *harness
	c   *websocket.Conn
	in  chan out
	sid string
}

// out is one message Parley sent to the phone.
type out struct {
	Event     string `json:"event"`
	StreamSID string `json:"streamSid"`
	Media     struct {
		Payload string `json:"payload"`
	} `json:"media"`
	Mark struct {
		Name string `json:"name"`
	} `json:"mark"`
	err  error
	code websocket.StatusCode
}

// dial opens the stream the TwiML names and sends connected.
func (h *harness) dial(tw twiml) *phone {
	h.t.Helper()
	c, resp, err := websocket.Dial(h.t.Context(), tw.Stream.URL, nil)
	require.NoError(h.t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	p := &phone{t: h.t, h: h, c: c, in: make(chan out, 1<<14), sid: streamSID}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				p.in <- out{err: err, code: websocket.CloseStatus(err)}
				close(p.in)
				return
			}
			var o out
			if err := json.Unmarshal(data, &o); err != nil {
				o.err = err
			}
			p.in <- o
		}
	}()
	h.t.Cleanup(func() {
		_ = c.CloseNow()
		<-done
	})
	p.send(`{"event":"connected","protocol":"Call","version":"1.0.0"}`)
	return p
}

func (p *phone) send(msg string) {
	p.t.Helper()
	require.NoError(p.t, p.c.Write(p.t.Context(), websocket.MessageText, []byte(msg)))
}

// start sends the start message with the TwiML's parameters.
func (p *phone) start(tw twiml) {
	p.t.Helper()
	params := map[string]string{}
	for _, pr := range tw.Stream.Params {
		params[pr.Name] = pr.Value
	}
	b, err := json.Marshal(map[string]any{
		"event": "start", "sequenceNumber": "1", "streamSid": p.sid,
		"start": map[string]any{
			"accountSid": accountID, "streamSid": p.sid, "callSid": callSID, "tracks": []string{"inbound"},
			"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
			"customParameters": params,
		},
	})
	require.NoError(p.t, err)
	p.send(string(b))
}

// call does the webhook, dials and starts the stream; the session runs
// when it returns.
func (h *harness) call() *phone {
	h.t.Helper()
	tw := h.signedWebhook()
	p := h.dial(tw)
	p.start(tw)
	require.Eventually(h.t, func() bool { return h.mgr.Count() == 1 }, waitFor, time.Millisecond)
	return p
}

// audio sends 8 kHz samples as 20 ms μ-law media messages, one frame of
// clock each (the caller's audio is the clock).
func (p *phone) audio(samples []int16) {
	p.t.Helper()
	pcm := sessiontest.PCM(samples)
	for _, f := range sessiontest.Frames(pcm, audio.G711Rate) {
		codes := audio.Mulaw.Encode(nil, f)
		p.send(`{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"` +
			base64.StdEncoding.EncodeToString(codes) + `"},"streamSid":"` + p.sid + `"}`)
		p.h.clock.Advance(frameDur)
	}
}

// question: silence, speech of d, end-of-turn silence.
func (p *phone) question(d time.Duration) {
	p.audio(sessiontest.Silence(400*time.Millisecond, audio.G711Rate))
	p.audio(sessiontest.Speech(d, audio.G711Rate))
	p.audio(sessiontest.Silence(500*time.Millisecond, audio.G711Rate))
}

// next returns the next outbound message.
func (p *phone) next() out {
	p.t.Helper()
	select {
	case o, ok := <-p.in:
		require.True(p.t, ok, "stream reader ended")
		return o
	case <-time.After(waitFor):
		p.t.Fatalf("no message within %s", waitFor)
		return out{}
	}
}

// until reads until an event of typ; with play, each media message
// advances the clock a frame (Twilio plays it) and marks are echoed as
// Twilio does once the audio before them has played.
func (p *phone) until(typ string, play bool) []out {
	p.t.Helper()
	var seen []out
	for {
		o := p.next()
		require.NoError(p.t, o.err, "while waiting for %s", typ)
		seen = append(seen, o)
		if play {
			switch o.Event {
			case "media":
				p.h.clock.Advance(frameDur)
			case "mark":
				p.echo(o.Mark.Name)
			}
		}
		if o.Event == typ {
			return seen
		}
	}
}

// echo answers a mark as Twilio does; the stream may be closing already
// (the last mark of a goodbye), so a failed write is not an error.
func (p *phone) echo(name string) {
	msg := `{"event":"mark","sequenceNumber":"9","streamSid":"` + p.sid + `","mark":{"name":"` + name + `"}}`
	_ = p.c.Write(p.t.Context(), websocket.MessageText, []byte(msg))
}

// closeCode reads until the stream ends and returns its close code.
func (p *phone) closeCode() websocket.StatusCode {
	p.t.Helper()
	for {
		o := p.next()
		if o.err != nil {
			return o.code
		}
	}
}

func count(seen []out, event string) int {
	n := 0
	for _, o := range seen {
		if o.Event == event {
			n++
		}
	}
	return n
}

func ignored(t testing.TB, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "parley_telephony_ignored_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func reply(text string) *sessiontest.LLM {
	return &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text(text), nil
	}}
}
