package webrtc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1/parleyv1test"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	rtc "github.com/parleyhq/parley/server/internal/transport/webrtc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds how long a test waits for something expected; a failure
// guard, not a synchronisation sleep.
const waitFor = 20 * time.Second

// setup tunes a harness before it starts.
type setup struct {
	session config.Session
	vad     config.VAD
	rtc     config.WebRTC
	// httpapi, when set, serves the handler behind the real router and its
	// access control (auth, tokens) instead of a bare chi router.
	httpapi *httpapi.Options
	// logger receives the manager's and the handler's logs (default: discarded).
	logger *slog.Logger
	// clock is the manager's clock (default: the system clock).
	clock clock.Clock
}

func defaultSetup() *setup {
	return &setup{
		session: config.Session{
			MaxSessions: 20, MaxSessionsPerIP: 20, SystemPrompt: "You are a test agent.", Voice: "slt", Language: "en",
			OutputSampleRate: 16000, InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 3,
			ClientToolTimeout: 10 * time.Second, MaxHistory: 50, OutputLookahead: 100 * time.Millisecond,
		},
		vad: config.VAD{
			MinSpeech: 100 * time.Millisecond, MinSilence: 300 * time.Millisecond, PreRoll: 200 * time.Millisecond,
			MinSilenceMin: 100 * time.Millisecond, MinSilenceMax: 2 * time.Second,
		},
		rtc: config.WebRTC{
			Enabled: true, Interfaces: []string{"lo"}, IncludeLoopback: true,
			DisconnectedTimeout: time.Second, FailedTimeout: 2 * time.Second, MaxOfferBytes: 16 << 10,
			DTX: true, OpusComplexity: 2,
		},
	}
}

type harness struct {
	t   testing.TB
	stt *sessiontest.STT
	llm *sessiontest.LLM
	tts *sessiontest.TTS
	mgr *session.Manager
	h   *rtc.Handler
	srv *httptest.Server
	// schemas validate every event any test client receives.
	schemas parleyv1test.Schemas
	// bearer, when set, is sent as Authorization: Bearer with every offer.
	bearer string
}

func newHarness(t testing.TB, llm *sessiontest.LLM, transcripts []string, tune func(*setup)) *harness {
	t.Helper()
	s := defaultSetup()
	if tune != nil {
		tune(s)
	}
	hs := &harness{t: t, stt: &sessiontest.STT{Transcripts: transcripts}, llm: llm, tts: &sessiontest.TTS{}, schemas: parleyv1test.Load(t)}
	logger := s.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var opts []session.Option
	if s.clock != nil {
		opts = append(opts, session.WithClock(s.clock))
	}
	mgr, err := session.NewManager(s.session, s.vad, config.Tools{Timezone: "UTC"},
		session.Plugins{STT: hs.stt, LLM: hs.llm, TTS: hs.tts}, nil, prometheus.NewRegistry(), logger, opts...)
	require.NoError(t, err)
	hs.mgr = mgr
	h, err := rtc.New(s.rtc, mgr, logger)
	require.NoError(t, err)
	hs.h = h
	var router http.Handler
	if s.httpapi != nil {
		o := *s.httpapi
		o.Logger, o.Voice = logger, h.Routes
		router, err = httpapi.New(o)
		require.NoError(t, err)
	} else {
		r := chi.NewRouter()
		h.Routes(r)
		router = r
	}
	hs.srv = httptest.NewServer(router)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, mgr.Drain(ctx))
		require.NoError(t, h.Close(ctx))
		hs.srv.Close()
	})
	return hs
}

// reply is an LLM that always answers text.
func reply(text string) *sessiontest.LLM {
	return &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text(text), nil
	}}
}

// event is a decoded JSON event.
type event map[string]any

func (e event) str(k string) string { s, _ := e[k].(string); return s }

// client is an in-process pion peer talking to the handler over loopback.
type client struct {
	t     testing.TB
	hs    *harness
	pc    *webrtc.PeerConnection
	dc    *webrtc.DataChannel
	track *webrtc.TrackLocalStaticRTP
	sock  net.PacketConn
	id    string
	// answer is the server's answer SDP.
	answer string

	events chan event
	open   chan struct{}

	mu       sync.Mutex
	frames   int
	pcm      []int16
	arrivals []arrival

	wg   sync.WaitGroup
	seq  uint16
	ts   uint32
	once sync.Once
}

// arrival is when an RTP packet arrived and its RTP timestamp and marker.
type arrival struct {
	at     time.Time
	ts     uint32
	marker bool
}

// clientOpts shape a client.
type clientOpts struct {
	// noDecode skips decoding received audio (load tests).
	noDecode bool
	// json posts the offer as JSON.
	json bool
	// relay, when set, is the client's configuration (ICE servers, a
	// relay-only policy): its candidates then come from TURN, not sock.
	relay *webrtc.Configuration
}

// clientAPI is the client's pion API: loopback only, UDP4, no mDNS, all
// its ICE traffic on sock (so a test can make the client vanish).
func clientAPI(t testing.TB, sock net.PacketConn) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	require.NoError(t, me.RegisterDefaultCodecs())
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEUDPMux(webrtc.NewICEUDPMux(lf.NewLogger("udpmux"), sock))
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}

// dial connects a client and waits for connection_established on the data channel.
func (hs *harness) dial(opts clientOpts) *client {
	t := hs.t
	t.Helper()
	sock, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	api, conf := clientAPI(t, sock), webrtc.Configuration{}
	if opts.relay != nil {
		api, conf = relayClientAPI(t), *opts.relay
	}
	pc, err := api.NewPeerConnection(conf)
	require.NoError(t, err)
	c := &client{t: t, hs: hs, pc: pc, sock: sock, events: make(chan event, 4096), open: make(chan struct{}), seq: 1000, ts: 5000}
	t.Cleanup(c.close)
	c.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "client")
	require.NoError(t, err)
	_, err = pc.AddTransceiverFromTrack(c.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	require.NoError(t, err)
	c.dc, err = pc.CreateDataChannel("events", nil)
	require.NoError(t, err)
	c.dc.OnOpen(func() { close(c.open) })
	c.dc.OnMessage(func(m webrtc.DataChannelMessage) {
		assert.NoError(t, hs.schemas.CheckServer(m.Data))
		var ev event
		if json.Unmarshal(m.Data, &ev) == nil {
			select {
			case c.events <- ev:
			default:
			}
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		defer c.wg.Done()
		c.receive(tr, opts.noDecode)
	})
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	answer, id := c.post(pc.LocalDescription().SDP, opts.json)
	c.id, c.answer = id, answer
	require.NoError(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	select {
	case <-c.open:
	case <-time.After(waitFor):
		t.Fatal("data channel did not open")
	}
	est := c.expect(parleyv1.TypeConnectionEstablished)
	require.Equal(t, c.id, est.str("session_id"))
	return c
}

// post sends the offer and returns the answer SDP and session id.
func (c *client) post(offer string, asJSON bool) (string, string) {
	t := c.t
	t.Helper()
	body, ctype := []byte(offer), "application/sdp"
	if asJSON {
		var err error
		body, err = json.Marshal(map[string]string{"type": "offer", "sdp": offer})
		require.NoError(t, err)
		ctype = "application/json"
	}
	req, err := http.NewRequest(http.MethodPost, c.hs.srv.URL+rtc.OfferPath, bytes.NewReader(body)) //nolint:noctx // test
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	if c.hs.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.hs.bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	id := resp.Header.Get(rtc.HeaderSessionID)
	require.NotEmpty(t, id)
	require.Equal(t, rtc.SessionPathPrefix+id, resp.Header.Get("Location"))
	if !asJSON {
		require.Equal(t, "application/sdp", resp.Header.Get("Content-Type"))
		return string(b), id
	}
	var ans struct {
		SDP       string `json:"sdp"`
		Type      string `json:"type"`
		SessionID string `json:"session_id"`
	}
	require.NoError(t, json.Unmarshal(b, &ans))
	require.Equal(t, "answer", ans.Type)
	require.Equal(t, id, ans.SessionID)
	return ans.SDP, id
}

// receive collects the agent's audio (decoded to 16 kHz) and packet arrivals.
func (c *client) receive(tr *webrtc.TrackRemote, noDecode bool) {
	var dec *audio.OpusDecoder
	if !noDecode {
		var err error
		dec, err = audio.NewOpusDecoder(audio.SampleRate)
		if err != nil {
			return
		}
	}
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		c.mu.Lock()
		c.frames++
		c.arrivals = append(c.arrivals, arrival{at: now, ts: pkt.Timestamp, marker: pkt.Marker})
		if dec != nil {
			c.pcm, _ = dec.Decode(c.pcm, pkt.Payload)
		}
		c.mu.Unlock()
	}
}

func (c *client) received() (int, []int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames, append([]int16(nil), c.pcm...)
}

// close hangs up and waits for the client's goroutines.
func (c *client) close() {
	c.once.Do(func() {
		_ = c.pc.Close()
		_ = c.sock.Close()
		c.wg.Wait()
	})
}

// next returns the next event.
func (c *client) next() event {
	c.t.Helper()
	select {
	case ev := <-c.events:
		return ev
	case <-time.After(waitFor):
		c.t.Fatalf("no event within %s", waitFor)
		return nil
	}
}

// until reads events until one of type typ and returns them all.
func (c *client) until(typ string) []event {
	c.t.Helper()
	var out []event
	for {
		ev := c.next()
		out = append(out, ev)
		if ev.str("type") == typ {
			return out
		}
	}
}

func (c *client) expect(typ string) event {
	c.t.Helper()
	evs := c.until(typ)
	return evs[len(evs)-1]
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	require.NoError(c.t, c.dc.SendText(string(b)))
}

// stream sends Opus packets at real time (one per 20 ms).
func (c *client) stream(pkts [][]byte) {
	c.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, p := range pkts {
		<-tick.C
		c.sendPacket(p)
	}
}

func (c *client) sendPacket(p []byte) {
	c.seq++
	c.ts += 960
	_ = c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: c.seq, Timestamp: c.ts}, Payload: p})
}

// speechWAV is text spoken by flite (16 kHz).
func speechWAV(t testing.TB, text string) []int16 {
	t.Helper()
	path, err := exec.LookPath("flite")
	require.NoError(t, err, "the flite CLI (Debian package flite) is needed")
	var out bytes.Buffer
	cmd := exec.Command(path, "-voice", "slt", "-t", text, "-o", "/dev/stdout")
	cmd.Stdout = &out
	require.NoError(t, cmd.Run())
	pcm, err := audio.ReadWAV(&out)
	require.NoError(t, err)
	require.Equal(t, audio.SampleRate, pcm.SampleRate)
	return pcm.Samples
}

// opusPackets resamples 16 kHz speech to 48 kHz and encodes it as 20 ms
// Opus packets, as a browser would send it.
func opusPackets(t testing.TB, samples16k []int16) [][]byte {
	t.Helper()
	up, err := audio.NewResampler(audio.SampleRate, audio.OpusSampleRate)
	require.NoError(t, err)
	s := up.Flush(up.Process(nil, samples16k))
	enc, err := audio.NewOpusEncoder(audio.OpusSampleRate)
	require.NoError(t, err)
	var out [][]byte
	for f := enc.FrameSamples(); len(s) >= f; s = s[f:] {
		p, err := enc.Encode(nil, s[:f])
		require.NoError(t, err)
		out = append(out, p)
	}
	return out
}

// utterance is silence, the spoken text, and end-of-turn silence, as Opus packets.
func utterance(t testing.TB, text string) [][]byte {
	t.Helper()
	var s []int16
	s = append(s, sessiontest.Silence(400*time.Millisecond, audio.SampleRate)...)
	s = append(s, speechWAV(t, text)...)
	s = append(s, sessiontest.Silence(800*time.Millisecond, audio.SampleRate)...)
	return opusPackets(t, s)
}

func words(s string) int { return len(strings.Fields(s)) }
