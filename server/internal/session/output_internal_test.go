package session

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// recConn records what a session sends.
type recConn struct {
	mu     sync.Mutex
	frames int
	events []Event
	sent   chan struct{}
	full   bool
}

func newRecConn() *recConn { return &recConn{sent: make(chan struct{}, 1024)} }

func (c *recConn) Event(ev Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	return nil
}

func (c *recConn) Audio([]byte) error {
	c.mu.Lock()
	c.frames++
	full := c.full
	c.mu.Unlock()
	c.sent <- struct{}{}
	if full {
		return ErrSendBufferFull
	}
	return nil
}

func (c *recConn) Close(EndReason, string) {}

func (c *recConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// TestOutputPacing: the pacer sends the look-ahead at once, then one frame
// per frame of clock; after close not one more frame goes out although
// time runs on and audio is still queued.
func TestOutputPacing(t *testing.T) {
	clock := sessiontest.NewManualClock(time.Unix(0, 0))
	conn := newRecConn()
	out := newOutput(clock, conn, 100*time.Millisecond, audio.SampleRate, "resp_1", func(error) {})
	in := make(chan pacedAudio, 4)
	// 2 s of audio for the 4 words "aa bb cc dd" (500 ms each).
	text := "aa bb cc dd"
	for i := 0; i < 4; i++ {
		in <- pacedAudio{pcm: make([]byte, 16000), textStart: 3 * i, textEnd: min(3*i+3, len(text))}
	}
	close(in)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- out.pace(ctx, in) }()

	for i := 0; i < 5; i++ { // the look-ahead: 5 frames without time passing
		<-conn.sent
	}
	assert.Equal(t, 5, conn.count())
	for i := 0; i < 30; i++ { // then one frame per 20 ms of clock
		clock.Advance(audio.FrameDuration)
		<-conn.sent
		require.Equal(t, 6+i, conn.count())
	}
	// 35 frames sent, 30 frames of time elapsed: 600 ms played (100 ms queued).
	played := out.close()
	assert.Equal(t, 600*time.Millisecond, played)
	assert.Equal(t, "aa", out.textPlayed(text, played))
	assert.Equal(t, "aa bb", out.textPlayed(text, time.Second))
	for i := 0; i < 50; i++ {
		clock.Advance(audio.FrameDuration)
	}
	assert.Error(t, <-done)
	assert.Equal(t, 35, conn.count(), "no frame after close")
	// AudioStarted once, then a mark after each word's audio was sent:
	// 35 frames (700 ms) cover "aa" (0-500 ms) only.
	assert.Equal(t, []Event{
		AudioStarted{ResponseID: "resp_1", SampleRate: audio.SampleRate},
		AudioMark{ResponseID: "resp_1", End: 500 * time.Millisecond},
	}, conn.events)
}

// TestOutputSlowClient: a full send buffer stops the pacer and reports it.
func TestOutputSlowClient(t *testing.T) {
	clock := sessiontest.NewManualClock(time.Unix(0, 0))
	conn := newRecConn()
	conn.full = true
	var got error
	out := newOutput(clock, conn, 100*time.Millisecond, audio.SampleRate, "resp_1", func(err error) { got = err })
	in := make(chan pacedAudio, 1)
	in <- pacedAudio{pcm: make([]byte, 6400)}
	close(in)
	require.Error(t, out.pace(context.Background(), in))
	assert.ErrorIs(t, got, ErrSendBufferFull)
	assert.Equal(t, 1, conn.count())
}

func TestTextPlayedWithoutSpans(t *testing.T) {
	clock := sessiontest.NewManualClock(time.Unix(0, 0))
	out := newOutput(clock, newRecConn(), 0, audio.SampleRate, "resp_1", func(error) {})
	out.addSpan(pacedAudio{pcm: make([]byte, 32000)}) // 1 s, no text span
	assert.Equal(t, "hello", out.textPlayed("hello world", 600*time.Millisecond))
	assert.Equal(t, "hello world", out.textPlayed("hello world", time.Second))
}

// TestOutputReportedPlayback: once the client's reports are trusted, close
// returns the last reported position (never more than was sent), not the
// estimate.
func TestOutputReportedPlayback(t *testing.T) {
	clock := sessiontest.NewManualClock(time.Unix(0, 0))
	conn := newRecConn()
	out := newOutput(clock, conn, time.Second, audio.SampleRate, "resp_1", func(error) {})
	in := make(chan pacedAudio, 1)
	in <- pacedAudio{pcm: make([]byte, 16000), textStart: 0, textEnd: 2} // 500 ms
	close(in)
	require.NoError(t, out.pace(context.Background(), in))
	out.reportPlayed(200 * time.Millisecond)
	out.reportPlayed(100 * time.Millisecond) // reports never move back
	out.trustReports()
	assert.Equal(t, 200*time.Millisecond, out.close())
	out.reportPlayed(time.Hour)
	assert.Equal(t, 500*time.Millisecond, out.close(), "capped at what was sent")
}
