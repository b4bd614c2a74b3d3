package webrtc

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/session"
)

func testConn(t *testing.T, events bool) *conn {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: opusRTPClock, Channels: opusChannels}, "a", "b")
	require.NoError(t, err)
	return newConn(track, events, &counters{}, slog.New(slog.DiscardHandler))
}

// TestFlushOnInterrupt: a response.interrupted event drops all queued audio
// at once, and frames queued before it never reach the pacer.
func TestFlushOnInterrupt(t *testing.T) {
	c := testConn(t, true)
	frame := make([]byte, audio.FrameBytes)
	for range 10 {
		require.NoError(t, c.Audio(frame))
	}
	require.Len(t, c.audio, 10)
	held := <-c.audio // the pacer holds one frame while it waits for its slot
	require.NoError(t, c.Event(session.ResponseInterrupted{ResponseID: "resp_1", Reason: session.ReasonBargeIn}))
	assert.Empty(t, c.audio, "queue flushed")
	assert.NotEqual(t, held.gen, c.gen.Load(), "the held frame is stale")
	require.NoError(t, c.Audio(frame))
	assert.Equal(t, c.gen.Load(), (<-c.audio).gen, "new audio plays")

	// Other events do not flush.
	require.NoError(t, c.Audio(frame))
	require.NoError(t, c.Event(session.ResponseDone{ResponseID: "resp_1", Status: session.StatusCompleted}))
	assert.Len(t, c.audio, 1)
}

func TestConnLimits(t *testing.T) {
	t.Run("audio queue full", func(t *testing.T) {
		c := testConn(t, true)
		for range audioQueueFrames {
			require.NoError(t, c.Audio(nil))
		}
		require.ErrorIs(t, c.Audio(nil), session.ErrSendBufferFull)
		code, _ := c.closeInfo()
		assert.Equal(t, session.EndSlowConsumer, code)
		require.ErrorIs(t, c.Event(session.Pong{}), session.ErrConnClosed)
	})
	t.Run("event queue full", func(t *testing.T) {
		c := testConn(t, true)
		for range textQueueEvents {
			require.NoError(t, c.Event(session.Pong{ID: "x"}))
		}
		require.ErrorIs(t, c.Event(session.Pong{ID: "x"}), session.ErrSendBufferFull)
	})
	t.Run("no data channel drops events", func(t *testing.T) {
		c := testConn(t, false)
		for range 2 * textQueueEvents {
			require.NoError(t, c.Event(session.Pong{ID: "x"}))
		}
		assert.Empty(t, c.text)
	})
	t.Run("close once", func(t *testing.T) {
		c := testConn(t, true)
		c.Close(session.EndShutdown, "first")
		c.Close(session.EndNormal, "second")
		code, reason := c.closeInfo()
		assert.Equal(t, session.EndShutdown, code)
		assert.Equal(t, "first", reason)
	})
}

// TestPacerStops: the pacer sends what is queued, then idles — giving
// its encoder back to the pool once the queue stays dry — takes one again
// for the next spurt, and returns (the encoder back) when ctx ends.
func TestPacerStops(t *testing.T) {
	c := testConn(t, true)
	pool, err := newEncoderPool(2)
	require.NoError(t, err)
	spares := func() int {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return len(pool.spare)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.pace(ctx, pool)
	}()
	for range 3 {
		require.NoError(t, c.Audio(make([]byte, audio.FrameBytes)))
	}
	require.Eventually(t, func() bool { return c.stats.framesSent.Load() == 3 }, 5e9, 1e6)
	require.Eventually(t, func() bool { return spares() == 1 }, 5e9, 1e6, "encoder given back after the spurt")
	require.NoError(t, c.Audio(make([]byte, audio.FrameBytes)))
	require.Eventually(t, func() bool { return c.stats.framesSent.Load() == 4 }, 5e9, 1e6)
	cancel()
	<-done
	assert.Equal(t, 1, spares(), "one encoder served both spurts and is back")
}

// An encoder comes back from the pool reset: the same input gives the
// same packets as from a new encoder.
func TestEncoderPoolResets(t *testing.T) {
	pool, err := newEncoderPool(2)
	require.NoError(t, err)
	frame := make([]int16, audio.FrameSamples)
	for i := range frame {
		frame[i] = int16(3000 * ((i % 40) - 20) / 20)
	}
	encode := func(n int) [][]byte {
		enc, err := pool.take()
		require.NoError(t, err)
		defer pool.put(enc)
		var out [][]byte
		for range n {
			p, err := enc.Encode(nil, frame)
			require.NoError(t, err)
			out = append(out, p)
		}
		return out
	}
	first := encode(5)
	assert.Equal(t, first, encode(5), "a reused encoder starts from a fresh state")
}
