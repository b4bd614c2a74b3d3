package webrtc

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

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

// TestPacerStops: the first frame starts a pacer; it sends what is
// queued, then — the queue staying dry — gives its encoder back to the
// pool and ends; the next spurt starts another one, which ends with the
// peer's context (the encoder back).
func TestPacerStops(t *testing.T) {
	c := testConn(t, true)
	pool, err := newEncoderPool(2)
	require.NoError(t, err)
	spares := func() int {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return len(pool.spare)
	}
	var (
		mu      sync.Mutex
		started int
		wg      sync.WaitGroup
	)
	pacing := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pacing
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.startPacing(ctx, pool, func(fn func()) {
		mu.Lock()
		started++
		mu.Unlock()
		wg.Go(fn)
	})
	assert.False(t, pacing(), "no pacer before audio")
	for range 3 {
		require.NoError(t, c.Audio(make([]byte, audio.FrameBytes)))
	}
	require.Eventually(t, func() bool { return c.stats.framesSent.Load() == 3 }, 5e9, 1e6)
	require.Eventually(t, func() bool { return !pacing() }, 5e9, 1e6, "the pacer ends after the spurt")
	wg.Wait()
	assert.Equal(t, 1, spares(), "encoder given back")
	require.NoError(t, c.Audio(make([]byte, audio.FrameBytes)))
	require.Eventually(t, func() bool { return c.stats.framesSent.Load() == 4 }, 5e9, 1e6)
	cancel()
	wg.Wait()
	assert.Equal(t, 1, spares(), "one encoder served both spurts and is back")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, started, "one pacer per spurt")
}

// TestSpurtClock: a spurt's packets are one frame apart on the RTP clock
// and leave one frame before their slot (the first two together); a frame
// late by less than half a frame keeps the grid; after a longer pause a
// new spurt starts with the marker and the clock moves on by the pause.
func TestSpurtClock(t *testing.T) {
	k := spurtClock{seq: 7, ts: 1000}
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type placed struct {
		slot, send time.Duration
		marker     bool
		seq        uint16
		ts         uint32
	}
	put := func(at time.Duration) placed {
		slot, send, marker := k.place(t0.Add(at))
		h := k.header(marker)
		k.sent()
		return placed{slot.Sub(t0), send.Sub(t0), marker, h.SequenceNumber, h.Timestamp}
	}
	assert.Equal(t, placed{0, 0, true, 7, 1000}, put(0), "first: at once, marker")
	assert.Equal(t, placed{ms(20), 0, false, 8, 1960}, put(0), "second: with the first")
	assert.Equal(t, placed{ms(40), ms(20), false, 9, 2920}, put(0), "then a frame ahead of its slot")
	assert.Equal(t, placed{ms(60), ms(69), false, 10, 3880}, put(ms(69)), "9 ms late: same grid, sent at once")
	// Dry for 100 ms after the slot at 60 ms: a new spurt.
	assert.Equal(t, placed{ms(160), ms(160), true, 11, 3880 + 5*960}, put(ms(160)), "new spurt, clock moved on")
	assert.Equal(t, placed{ms(180), ms(160), false, 12, 3880 + 6*960}, put(ms(160)))
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
