package webrtc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// frameDur is one 20 ms audio frame.
const frameDur = 20 * time.Millisecond

// TestSpokenTurn streams generated speech as Opus over a real peer
// connection and gets the agent's answer back as Opus audio and events.
func TestSpokenTurn(t *testing.T) {
	const answer = "Sunny and warm in Paris today."
	for _, asJSON := range []bool{false, true} {
		t.Run(map[bool]string{false: "sdp", true: "json"}[asJSON], func(t *testing.T) {
			hs := newHarness(t, reply(answer), []string{"what is the weather in paris"}, nil)
			c := hs.dial(clientOpts{json: asJSON})
			c.stream(utterance(t, "What is the weather in Paris today?"))

			evs := c.until(parleyv1.TypeResponseDone)
			types := map[string]bool{}
			var text strings.Builder
			for _, ev := range evs {
				types[ev.str("type")] = true
				if ev.str("type") == parleyv1.TypeTextDelta {
					text.WriteString(ev.str("delta"))
				}
				if ev.str("type") == parleyv1.TypeTranscriptFinal {
					assert.Equal(t, "what is the weather in paris", ev.str("text"))
				}
			}
			for _, want := range []string{parleyv1.TypeSpeechStarted, parleyv1.TypeSpeechStopped,
				parleyv1.TypeTranscriptFinal, parleyv1.TypeAudioStarted} {
				assert.True(t, types[want], "missing %s in %v", want, evs)
			}
			assert.Equal(t, answer, text.String())

			// The fake TTS speaks 100 ms per word: that much audio must arrive.
			want := words(answer) * int(100*time.Millisecond/frameDur)
			require.Eventually(t, func() bool { n, _ := c.received(); return n >= want }, waitFor, 10*time.Millisecond)
			n, pcm := c.received()
			assert.InDelta(t, want, n, 1, "frames received")
			assert.InDelta(t, float64(want*audio.FrameSamples), float64(len(pcm)), audio.FrameSamples)
			assert.Greater(t, audio.DBFS(pcm), -30.0, "agent audio is not silent")

			// The STT got the speech (after 16 kHz conversion).
			got := hs.stt.AudioBytes()
			require.NotEmpty(t, got)
			assert.Greater(t, got[0], int(time.Second/frameDur)*audio.FrameBytes/2, "speech audio reached STT")
			// RTP timing: one talk spurt starting with the marker bit, the
			// clock advancing 960 ticks (20 ms at 48 kHz) per packet.
			c.mu.Lock()
			arr := append([]arrival(nil), c.arrivals...)
			c.mu.Unlock()
			require.NotEmpty(t, arr)
			assert.True(t, arr[0].marker)
			for i := 1; i < len(arr); i++ {
				if !arr[i].marker {
					assert.Equal(t, uint32(960), arr[i].ts-arr[i-1].ts, "packet %d", i)
				}
			}
			st := hs.h.Stats()
			assert.Zero(t, st.PacketsLost)
			assert.GreaterOrEqual(t, st.FramesSent, uint64(want))
		})
	}
}

// TestEvents exchanges protocol events on the data channel, including bad
// ones: each gets an error event and the session carries on.
func TestEvents(t *testing.T) {
	hs := newHarness(t, reply("Hello back."), nil, nil)
	c := hs.dial(clientOpts{})

	c.sendJSON(map[string]any{"type": "ping", "id": "p1"})
	pong := c.expect(parleyv1.TypePong)
	assert.Equal(t, "p1", pong.str("id"))

	cases := []struct {
		name string
		send func()
		code string
	}{
		{name: "malformed json", send: func() { require.NoError(t, c.dc.SendText("{not json")) }, code: string(parleyv1.CodeInvalidJSON)},
		{name: "unknown type", send: func() { c.sendJSON(map[string]any{"type": "nope"}) }, code: string(parleyv1.CodeUnknownType)},
		{name: "binary", send: func() { require.NoError(t, c.dc.Send([]byte{1, 2, 3})) }, code: string(parleyv1.CodeInvalidMessage)},
		{name: "oversized", send: func() {
			require.NoError(t, c.dc.SendText(`{"type":"input.text","text":"`+strings.Repeat("a", 70<<10)+`"}`))
		}, code: string(parleyv1.CodeMessageTooLarge)},
		{name: "rate change", send: func() {
			c.sendJSON(map[string]any{"type": "session.update", "input_sample_rate": 48000})
		}, code: string(session.CodeUnsupportedSampleRate)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.send()
			ev := c.expect(parleyv1.TypeError)
			assert.Equal(t, tc.code, ev.str("code"))
			c.sendJSON(map[string]any{"type": "ping", "id": tc.name})
			assert.Equal(t, tc.name, c.expect(parleyv1.TypePong).str("id"), "session continues")
		})
	}

	c.sendJSON(map[string]any{"type": "session.update", "system_prompt": "Be brief.", "input_sample_rate": 16000})
	c.expect(parleyv1.TypeSessionUpdated)
	c.sendJSON(map[string]any{"type": "input.text", "text": "hi"})
	evs := c.until(parleyv1.TypeResponseDone)
	assert.Equal(t, "Hello back.", deltas(evs))
	require.Eventually(t, func() bool { n, _ := c.received(); return n >= 2*5 }, waitFor, 10*time.Millisecond)
}

func deltas(evs []event) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.str("type") == parleyv1.TypeTextDelta {
			b.WriteString(ev.str("delta"))
		}
	}
	return b.String()
}

// TestBargeIn: the user speaks over a long answer; the answer stops, its
// queued audio is dropped, and the history keeps only what was played.
func TestBargeIn(t *testing.T) {
	long := strings.TrimSpace(strings.Repeat("this answer goes on and on ", 12)) // 72 words: 7.2 s of audio
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		if req.Messages[len(req.Messages)-1].Content == "tell me a story" {
			return sessiontest.Text(long), nil
		}
		return sessiontest.Text("Okay."), nil
	}}
	hs := newHarness(t, llm, []string{"stop please"}, nil)
	c := hs.dial(clientOpts{})
	c.sendJSON(map[string]any{"type": "input.text", "text": "tell me a story"})
	c.expect(parleyv1.TypeAudioStarted)
	// Let some of the answer play, then talk over it.
	require.Eventually(t, func() bool { n, _ := c.received(); return n >= 25 }, waitFor, 10*time.Millisecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.stream(utterance(t, "Stop please, that is enough."))
	}()
	evs := c.until(parleyv1.TypeResponseInterrupted)
	interrupted := evs[len(evs)-1]
	assert.Equal(t, "barge_in", interrupted.str("reason"))
	interruptedAt := time.Now()
	// Nothing more of the old answer arrives: the ~100 ms of it queued
	// ahead of playback was dropped at once (at most the one packet the
	// pacer was writing may follow). The next reply is a new talk spurt.
	assert.Equal(t, "stop please", c.expect(parleyv1.TypeTranscriptFinal).str("text"))
	time.Sleep(100 * time.Millisecond) // packets in flight land
	c.mu.Lock()
	old := 0
	for _, a := range c.arrivals {
		if a.at.Before(interruptedAt) {
			continue
		}
		if a.marker {
			break
		}
		old++
	}
	c.mu.Unlock()
	assert.LessOrEqual(t, old, 1, "old answer packets after response.interrupted")
	<-done
	n, _ := c.received()
	assert.Less(t, n, words(long)*5/2, "the long answer did not play out")

	s, ok := hs.mgr.Lookup(session.SessionID(c.id))
	require.True(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var assistant string
	for _, m := range s.History(ctx) {
		if m.Role == sdk.RoleAssistant {
			assistant = m.Content
			break
		}
	}
	assert.NotEmpty(t, assistant)
	assert.Less(t, len(assistant), len(long), "history keeps only the played part")
}

// TestLossyUplink: lost, reordered, duplicated and very late packets are
// concealed or dropped; the turn still works. (SRTP replay protection drops
// exact duplicates before the transport sees them.)
func TestLossyUplink(t *testing.T) {
	hs := newHarness(t, reply("Got it."), []string{"hello there"}, nil)
	c := hs.dial(clientOpts{})
	pkts := utterance(t, "Hello there, can you hear me?")
	type held struct {
		seq  uint16
		ts   uint32
		data []byte
		at   int
	}
	var late []held
	write := func(seq uint16, ts uint32, p []byte) {
		_ = c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: p})
	}
	tick := time.NewTicker(frameDur)
	defer tick.Stop()
	for i := 0; i < len(pkts); i++ {
		<-tick.C
		for len(late) > 0 && late[0].at <= i {
			write(late[0].seq, late[0].ts, late[0].data)
			late = late[1:]
		}
		switch {
		case i%10 == 3: // lost
			c.seq++
			c.ts += 960
		case i%10 == 6 && i+1 < len(pkts): // swapped with the next one
			c.seq += 2
			c.ts += 1920
			write(c.seq, c.ts, pkts[i+1])
			write(c.seq-1, c.ts-960, pkts[i])
			i++
		case i%10 == 8: // duplicated
			c.sendPacket(pkts[i])
			write(c.seq, c.ts, pkts[i])
		case i%10 == 1: // arrives six packets late: already concealed
			c.seq++
			c.ts += 960
			late = append(late, held{seq: c.seq, ts: c.ts, data: pkts[i], at: i + 6})
		default:
			c.sendPacket(pkts[i])
		}
	}
	final := c.expect(parleyv1.TypeTranscriptFinal)
	assert.Equal(t, "hello there", final.str("text"))
	c.expect(parleyv1.TypeResponseDone)
	st := hs.h.Stats()
	assert.Positive(t, st.PacketsLost, "losses concealed")
	assert.Positive(t, st.PacketsLate, "late packets dropped")
	assert.Zero(t, st.BadPackets)
}

// TestDTXClient: the answer asks for DTX (usedtx=1), and a client that
// uses it — after its question it sends one silence packet every 400 ms,
// sequence numbers contiguous, timestamps jumping — still has its turn
// ended and answered: the server fills the pauses with silence.
func TestDTXClient(t *testing.T) {
	const answer = "It is nine thirty."
	hs := newHarness(t, reply(answer), []string{"what time is it"}, nil)
	c := hs.dial(clientOpts{})
	assert.Contains(t, c.answer, "usedtx=1", "the answer asks for DTX")

	var s []int16
	s = append(s, sessiontest.Silence(400*time.Millisecond, audio.SampleRate)...)
	s = append(s, speechWAV(t, "What time is it?")...)
	pkts := opusPackets(t, s)
	quiet := opusPackets(t, sessiontest.Silence(20*time.Millisecond, audio.SampleRate))[0]
	c.stream(pkts)
	// Ten frames of hangover, then DTX until the reply is done.
	c.stream(opusPackets(t, sessiontest.Silence(200*time.Millisecond, audio.SampleRate)))
	done := make(chan []event, 1)
	go func() { done <- c.until(parleyv1.TypeResponseDone) }()
	tick := time.NewTicker(400 * time.Millisecond)
	defer tick.Stop()
	var evs []event
	for evs == nil {
		select {
		case evs = <-done:
		case <-tick.C:
			c.ts += 19 * 960 // the 19 frames not sent
			c.sendPacket(quiet)
		}
	}
	var text strings.Builder
	for _, ev := range evs {
		if ev.str("type") == parleyv1.TypeTextDelta {
			text.WriteString(ev.str("delta"))
		}
	}
	assert.Equal(t, answer, text.String())
	st := hs.h.Stats()
	assert.Positive(t, st.SilenceFilled, "the pauses were filled")
	assert.Zero(t, st.PacketsLost, "a DTX pause is not loss")
	reg := prometheus.NewRegistry()
	require.NoError(t, hs.h.RegisterMetrics(reg))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	counters := map[string]float64{}
	for _, mf := range mfs {
		counters[mf.GetName()] = mf.GetMetric()[0].GetCounter().GetValue()
	}
	assert.Len(t, counters, 7)
	assert.Positive(t, counters["parley_webrtc_silence_filled_frames_total"])
	assert.Positive(t, counters["parley_webrtc_packets_received_total"])
}
