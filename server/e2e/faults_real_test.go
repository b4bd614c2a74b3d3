package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// realProviderConfig runs the Deepgram STT, Anthropic LLM and ElevenLabs
// TTS plugins — the binaries users run — against the local fakes of
// providerfakes_test.go (base URLs filled in), each as its own process
// with no fallback: recovery is by restart.
const realProviderConfig = `
http:
  addr: 127.0.0.1:0
  drain_timeout: 15s
session:
  max_sessions: 200
  max_sessions_per_ip: 200
rate_limit:
  enabled: false
plugins:
  health_interval: 1s
  instances:
    - name: stt-deepgram
      kind: stt
      path: ./bin/plugins/stt-deepgram
      env: [DEEPGRAM_API_KEY]
      config: {base_url: %q, model: nova-3, language: en-US}
    - name: llm-anthropic
      kind: llm
      path: ./bin/plugins/llm-anthropic
      env: [ANTHROPIC_API_KEY]
      config: {base_url: %q, model: claude-sonnet-4-5, max_tokens: 512}
    - name: tts-elevenlabs
      kind: tts
      path: ./bin/plugins/tts-elevenlabs
      env: [ELEVENLABS_API_KEY]
      config: {base_url: %q, voice_id: 21m00Tcm4TlvDq8ikWAM, model_id: eleven_flash_v2_5}
pipeline:
  stt: [stt-deepgram]
  llm: [llm-anthropic]
  tts: [tts-elevenlabs]
`

// Sizes of the real-provider run: smaller than the sim suite's (one kill
// per kind), to keep make test short.
const realProviderTurns = 3

// TestFaultsSIGKILLRealProviders is issue 13's reproduction: the real
// server binary and the real Deepgram, Anthropic and ElevenLabs plugin
// processes (against local fakes of those APIs), faultSessions WebSocket
// clients talking at real time, and each plugin process SIGKILLed once
// while they talk (the STT mid-utterance, the LLM and TTS mid-reply of
// whichever sessions are there). The checks are the sim suite's: no
// session dropped, no turn lost, each utterance recognised once and whole,
// each completed reply whole, clean client errors, no plugin process or
// goroutine left.
func TestFaultsSIGKILLRealProviders(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	leaks := goleak.IgnoreCurrent()
	fakes := startProviderFakes(t)
	cfg := fmt.Sprintf(realProviderConfig, fakes.deepgram, fakes.anthropic, fakes.elevenlabs)
	srv := startServerWith(t, bins.get(t), cfg)
	samples := utterance()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	schedule := []kill{
		{6 * time.Second, "stt-deepgram", fakes.sttLive},
		{9 * time.Second, "tts-elevenlabs", fakes.ttsLive},
		{12 * time.Second, "llm-anthropic", fakes.llmLive},
	}
	var pids pluginPIDs
	require.Len(t, pids.note(ctx, srv.addr), len(schedule), "every plugin runs with a pid")
	killed := runKills(ctx, srv.addr, &pids, schedule)
	talkStart := time.Now()
	runs := runTalkers(ctx, srv.addr, faultSessions, realProviderTurns, samples)
	talked := time.Since(talkStart)
	kills := <-killed
	pids.note(ctx, srv.addr)

	turns, completed, interrupted := checkRuns(t, runs, realProviderTurns)
	rec := recoveries(t, srv)
	require.Len(t, kills, len(schedule), "every scheduled kill happened")
	for _, k := range schedule {
		assert.Len(t, rec.restart[k.name], 1, "%s restarted after its kill", k.name)
	}
	// Each kill landed while a stream of its kind was under way.
	assert.NotEmpty(t, rec.stt, "an utterance was replayed after the STT kill")
	assert.NotEmpty(t, rec.tts, "a reply was resumed after the TTS kill")
	assert.Positive(t, rec.llmReasks+interrupted, "a reply was asked again or ended at what was said after the LLM kill")
	t.Logf("real providers: %d sessions, %d turns, %d completed, %d ended at what was said (llm_interrupted), 0 dropped; kills %d; talking took %s",
		faultSessions, turns, completed, interrupted, len(kills), talked.Round(time.Second))
	rec.log(t)
	for _, k := range schedule {
		t.Logf("plugin %s: down → restarted %s", k.name, percentile(rec.restart[k.name], 1))
	}

	require.NoError(t, srv.stop())
	assertNoPluginLeft(t, pids.all())
	fakes.close()
	goleak.VerifyNone(t, leaks)
}
