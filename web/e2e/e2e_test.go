package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Waits in the page (polled every pollInterval by chromedp, in the browser).
const (
	pollInterval    = 100 * time.Millisecond
	connectTimeout  = 20 * time.Second
	scenarioTimeout = 40 * time.Second
	artifactsDir    = "artifacts"
	typedQuestion   = "what time is it"
	webrtcOfferPath = "/v1/webrtc/offer"
)

// Phone-sized and desktop viewports for the screenshots.
const (
	phoneWidth    = 412
	phoneHeight   = 915
	desktopWidth  = 1100
	desktopHeight = 900
	phoneScale    = 2
)

// Lead-in silence lets the page connect before the fake microphone speaks;
// the tail lets the agent answer while the microphone is quiet.
const (
	leadIn       = 1500 * time.Millisecond
	tail         = 4 * time.Second
	bargeInDelay = 3500 * time.Millisecond // after the question: the agent is mid-answer
)

// pageState mirrors window.parleyTest (web/app.js).
type pageState struct {
	State         string   `json:"state"`
	Transport     string   `json:"transport"`
	SessionID     string   `json:"sessionId"`
	Partials      int      `json:"partials"`
	Finals        []string `json:"finals"`
	SpeechStarted int      `json:"speechStarted"`
	AgentDeltas   int      `json:"agentDeltas"`
	AgentTexts    []struct {
		ID     string `json:"id"`
		Text   string `json:"text"`
		Status string `json:"status"`
	} `json:"agentTexts"`
	AudioStarted      int     `json:"audioStarted"`
	PlayedEnergy      float64 `json:"playedEnergy"`
	PlayedMS          float64 `json:"playedMs"`
	AgentSpeakingSeen bool    `json:"agentSpeakingSeen"`
	Flushes           int     `json:"flushes"`
	LastFlush         *struct {
		DroppedMS float64 `json:"droppedMs"`
		AfterMS   float64 `json:"afterMs"`
	} `json:"lastFlush"`
	Interruptions []struct {
		ID         string `json:"id"`
		Reason     string `json:"reason"`
		PlayedMS   int64  `json:"playedMs"`
		TextPlayed string `json:"textPlayed"`
	} `json:"interruptions"`
	Metrics []struct {
		ResponseID   string   `json:"response_id"`
		STTMS        *float64 `json:"stt_final_ms"`
		LLMTTFTMS    *float64 `json:"llm_ttft_ms"`
		TTSTTFAMS    *float64 `json:"tts_ttfa_ms"`
		VoiceToVoice *float64 `json:"voice_to_voice_ms"`
	} `json:"metrics"`
	ToolCalls []struct {
		Name     string `json:"name"`
		Location string `json:"location"`
	} `json:"toolCalls"`
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Events []string `json:"events"`
}

// scenario is one conversation the fake microphone has with the agent.
type scenario struct {
	name      string
	transport string
	speech    []segment
	bargeIn   bool
	echoOff   bool // the page's ?echo_cancellation=off
	width     int
	height    int
	// question is what the microphone asks first; reply a word of the rules
	// agent's answer to it. pocketsphinx misses some words of flite's voice
	// through Chromium's capture (over WebRTC also Opus), so at least half
	// the question's words must be heard, and the reply must hold reply
	// when the question was heard word for word (the rules agent answers a
	// misheard one with its fallback).
	question, reply string
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds the server and drives Chromium")
	}
	root := repoRoot(t)
	work := t.TempDir()
	binDir := filepath.Join(work, "bin")
	require.NoError(t, os.MkdirAll(binDir, 0o750))
	buildBinaries(t, root, binDir)

	cfgPath := filepath.Join(work, "parley.yaml")
	writeConfig(t, root, binDir, cfgPath)
	srv := startServer(t, filepath.Join(binDir, "parley"), cfgPath)
	// The server itself serves the browser client at "/".
	index, err := srv.fetch(t.Context(), "/")
	require.NoError(t, err, "the server must serve the web client at /")
	require.Contains(t, index, "<title>Parley", "the server must serve web/index.html at /")
	requireSecurityHeaders(t, srv)
	pageBase := srv.url("/")

	const weatherQ, capabilitiesQ = "what is the weather in paris today", "what can you do"
	weather := []segment{silence(leadIn), say(weatherQ), silence(tail)}
	// The agent's answer to capabilitiesQ (or its fallback) lasts ~9 s: the
	// second question lands in the middle of it.
	barge := []segment{
		silence(leadIn), say(capabilitiesQ), silence(bargeInDelay),
		say("hello are you there"), silence(tail),
	}
	scenarios := []scenario{
		// pocketsphinx sometimes hears the weather question from Chromium's
		// fake capture as "what is that when they're in paris today" (seen
		// in CI runs before and after issue 12), and the capabilities
		// question as "can you do" (a CI run on 2026-12-03).
		{name: "websocket", transport: "websocket", speech: weather, width: desktopWidth, height: desktopHeight, question: weatherQ, reply: "weather"},
		{name: "webrtc", transport: "webrtc", speech: weather, width: desktopWidth, height: desktopHeight, question: weatherQ, reply: "weather"},
		{name: "websocket-barge-in", transport: "websocket", speech: barge, bargeIn: true, width: phoneWidth, height: phoneHeight, question: capabilitiesQ, reply: "arithmetic"},
		// Headphones (?echo_cancellation=off): with WebRTC, Chromium's echo
		// canceller takes the agent's playout as its reference and leaves
		// the fake microphone's second question too faint to be speech
		// (measured before this setting: Silero heard nothing, the energy
		// VAD only fragments, in one CI run of three not enough to interrupt).
		{name: "webrtc-barge-in", transport: "webrtc", speech: barge, bargeIn: true, width: phoneWidth, height: phoneHeight, question: capabilitiesQ, reply: "arithmetic", echoOff: true},
	}
	artifacts := filepath.Join(root, artifactsDir)
	require.NoError(t, os.MkdirAll(artifacts, 0o750))

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			runScenario(t, srv, pageBase, sc, filepath.Join(artifacts, "e2e-"+sc.name+".png"))
		})
	}

	// Chromium honours the answer's usedtx=1: in the microphone's silences
	// it paused its packets, and the server filled the pauses (a stream
	// without DTX never pauses long enough to be filled).
	metrics, err := srv.fetch(t.Context(), "/metrics")
	require.NoError(t, err)
	filled := metricValue(metrics, "parley_webrtc_silence_filled_frames_total")
	t.Logf("DTX: %.0f frames of silence filled for Chromium's pauses", filled)
	assert.Positive(t, filled, "Chromium sent every packet in silence: no DTX")
}

// metricValue is the value of an unlabelled metric in a Prometheus text
// exposition (0 when absent).
func metricValue(exposition, name string) float64 {
	for line := range strings.Lines(exposition) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return 0
}

// runScenario opens the page in a fresh Chromium whose microphone plays the
// scenario, connects, waits for the conversation and checks what the page
// saw.
func runScenario(t *testing.T, srv *server, pageBase string, sc scenario, screenshot string) {
	wav := filepath.Join(t.TempDir(), "mic.wav")
	_, err := buildRecording(t.TempDir(), wav, sc.speech)
	require.NoError(t, err)
	b := launchBrowser(t, wav, sc.width, sc.height)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("page console:\n%s", b.console)
			t.Logf("server log (tail):\n%s", srv.log.tail(logTailLines))
			t.Logf("chromium log:\n%s", lastLines(b.chromiumOutput(), logTailLines))
		}
	})

	if sc.transport == "webrtc" {
		requireWebRTCRoute(t, srv)
	}
	pageURL := withParam(pageBase, "transport", sc.transport)
	if sc.echoOff {
		pageURL = withParam(pageURL, "echo_cancellation", "off")
	}
	viewport := chromedp.EmulateViewport(int64(sc.width), int64(sc.height))
	if sc.width == phoneWidth {
		viewport = chromedp.EmulateViewport(int64(sc.width), int64(sc.height), chromedp.EmulateScale(phoneScale), chromedp.EmulateMobile)
	}
	require.NoError(t, chromedp.Do(b.ctx,
		viewport,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.ID("connect")),
	))
	watchCSPViolations(t, b)
	require.NoError(t, chromedp.Do(b.ctx, chromedp.Click(chromedp.ID("connect"))))
	waitFor(t, b, `window.parleyTest.state === "connected" || window.parleyTest.errors.length > 0`, connectTimeout)
	st := readState(t, b)
	require.Equal(t, "connected", st.State, "page errors: %+v", st.Errors)
	require.Equal(t, sc.transport, st.Transport)

	// The question is transcribed, answered in text and in audio, and the
	// turn's latencies arrive.
	waitFor(t, b, `window.parleyTest.metrics.length > 0 && window.parleyTest.playedEnergy > 0`, scenarioTimeout)
	if sc.bargeIn {
		waitFor(t, b, `window.parleyTest.interruptions.length > 0`, scenarioTimeout)
	} else {
		waitFor(t, b, `window.parleyTest.agentTexts.some(r => r.status === "completed")`, scenarioTimeout)
	}
	st = readState(t, b)
	t.Logf("%s: finals %q, agent %+v, energy %.3f, played %.0f ms, metrics %d, interruptions %+v",
		sc.name, st.Finals, st.AgentTexts, st.PlayedEnergy, st.PlayedMS, len(st.Metrics), st.Interruptions)

	assert.Empty(t, st.Errors, "errors shown on the page")
	require.NotEmpty(t, st.Finals, "no final transcript")
	assert.Positive(t, st.Partials, "partial transcripts")
	require.NotEmpty(t, st.AgentTexts, "no agent reply")
	assert.GreaterOrEqual(t, 2*wordsHeard(sc.question, st.Finals[0]), len(strings.Fields(sc.question)),
		"transcript %q has fewer than half the words of %q", st.Finals[0], sc.question)
	assert.NotEmpty(t, strings.TrimSpace(st.AgentTexts[0].Text), "agent reply text")
	if strings.ToLower(st.Finals[0]) == sc.question {
		assert.Contains(t, strings.ToLower(st.AgentTexts[0].Text), sc.reply, "agent reply to the question heard word for word")
	}
	assert.Positive(t, st.AudioStarted, "response.audio.started")
	assert.Positive(t, st.PlayedEnergy, "agent audio energy played in the page")
	assert.True(t, st.AgentSpeakingSeen, "who-is-speaking never showed the agent")

	m := st.Metrics[0]
	require.NotNil(t, m.VoiceToVoice, "voice_to_voice_ms in %+v", m)
	assert.Positive(t, *m.VoiceToVoice)
	require.NotNil(t, m.STTMS)
	t.Logf("%s latency: stt_final %.0f ms, llm_ttft %s, tts_ttfa %s, voice_to_voice %.0f ms",
		sc.name, *m.STTMS, fmtMS(m.LLMTTFTMS), fmtMS(m.TTSTTFAMS), *m.VoiceToVoice)
	shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`document.querySelector("#latency tbody tr:last-child td:last-child").textContent`))
	require.NoError(t, err)
	assert.Regexp(t, `^\d+$`, shown, "voice-to-voice latency shown in the table")

	if sc.bargeIn {
		in := st.Interruptions[0]
		assert.Equal(t, "barge_in", in.Reason)
		assert.Positive(t, in.PlayedMS, "played_ms of the interrupted reply")
		marked, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log li.agent.interrupted").length`))
		require.NoError(t, err)
		assert.Equal(t, 1, marked, "the interrupted reply is marked on the page")
		if sc.transport == "websocket" {
			waitFor(t, b, `window.parleyTest.flushes > 0`, connectTimeout)
			st = readState(t, b)
			if assert.NotNil(t, st.LastFlush) {
				t.Logf("%s: flush dropped %.0f ms of queued audio, confirmed by the audio thread %.1f ms after response.interrupted",
					sc.name, st.LastFlush.DroppedMS, st.LastFlush.AfterMS)
			}
		}
	}

	if !sc.bargeIn {
		// Typing instead of speaking: a question the rules agent answers
		// with a (server-side) tool call, shown in the tool list.
		require.NoError(t, chromedp.Do(b.ctx,
			chromedp.SendKeys(chromedp.ID("text-input"), typedQuestion),
			chromedp.Click(chromedp.ID("send")),
		))
		waitFor(t, b, `window.parleyTest.toolCalls.length > 0 && window.parleyTest.agentTexts.length > 1 &&
			window.parleyTest.agentTexts[1].status === "completed"`, scenarioTimeout)
		st = readState(t, b)
		assert.Equal(t, typedQuestion, st.Finals[len(st.Finals)-1], "typed text shown as the user's turn")
		assert.Equal(t, "get_current_time", st.ToolCalls[0].Name)
		assert.Contains(t, st.AgentTexts[1].Text, "It is", "reply from the tool result")
		shownTool, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#tools li").textContent`))
		require.NoError(t, err)
		assert.Contains(t, shownTool, "get_current_time")
	}

	// Nothing the page loaded left loopback.
	hosts, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		`performance.getEntries().filter(e => e.name.includes("://")).map(e => new URL(e.name).hostname)`))
	require.NoError(t, err)
	for _, h := range hosts {
		assert.Equal(t, "127.0.0.1", h, "page loaded something from outside loopback")
	}

	// The whole conversation ran under the CSP without a violation.
	requireNoCSPViolations(t, b)

	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(screenshot, png, 0o600))
	_, err = chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("connect").click()`))
	require.NoError(t, err)
	waitFor(t, b, `window.parleyTest.state === "closed"`, connectTimeout)
}

// requireWebRTCRoute fails the test plainly when the server has no WebRTC
// signaling route: an empty offer must be refused as a bad offer (4xx), not
// as an unknown route (404).
func requireWebRTCRoute(t *testing.T, srv *server) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.url(webrtcOfferPath), strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.NotEqual(t, http.StatusNotFound, resp.StatusCode,
		"the server does not mount WebRTC signaling at %s (server/internal/app must mount transport/webrtc)", webrtcOfferPath)
}

// waitFor polls expr in the page until it is true.
func waitFor(t *testing.T, b *browser, expr string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		st := readState(t, b)
		require.NoError(t, err, "waiting for %s; page state: %+v", expr, st)
	}
}

// readState reads window.parleyTest.
func readState(t *testing.T, b *browser) pageState {
	t.Helper()
	st, err := chromedp.Run(b.ctx, chromedp.Evaluate[pageState](`window.parleyTest`))
	require.NoError(t, err)
	return st
}

func withParam(base, key, value string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// wordsHeard counts the words of said that occur in heard.
func wordsHeard(said, heard string) int {
	got := map[string]bool{}
	for _, w := range strings.Fields(strings.ToLower(heard)) {
		got[w] = true
	}
	n := 0
	for _, w := range strings.Fields(strings.ToLower(said)) {
		if got[w] {
			n++
		}
	}
	return n
}

func fmtMS(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f ms", *v)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
