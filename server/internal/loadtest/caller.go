package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

// caller is one simulated user on one transport.
type caller struct {
	cfg    *Config
	tr     transport
	frames *frames
	col    *collector
	st     turnState
	// stopping is set once the run told the caller to hang up.
	stopping atomic.Bool
}

// run dials, talks until stop is closed (nil) or the session breaks
// (the error), and hangs up. ctx bounds everything.
func (c *caller) run(ctx context.Context, stop <-chan struct{}) error {
	conn, err := c.tr.dial(ctx)
	if err != nil {
		c.col.sessionFailed(err)
		return err
	}
	defer conn.closeNow()
	c.col.sessionUp(&c.st)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.read(gctx, conn) })
	g.Go(func() error { return c.send(gctx, conn, stop) })
	err = g.Wait()
	if c.stopping.Load() {
		err = nil
	}
	c.col.sessionDown(&c.st, err)
	return err
}

// phase is where a caller is in its question cycle.
type phase int

const (
	speaking phase = iota // sending the question
	waiting               // sending silence until the answer ends
	pausing               // sending silence for Config.Gap
)

// send streams 20 ms frames at real time: frame n is due n×20 ms after
// the first, and every frame due is sent at each tick (a tick that came
// late sends the frames it owes at once). A frame sent more than one frame
// duration after it was due is late (the client fell behind, not the server).
func (c *caller) send(ctx context.Context, conn voiceConn, stop <-chan struct{}) error {
	tick := time.NewTicker(audio.FrameDuration)
	defer tick.Stop()
	question := c.frames.question
	gapFrames := int(c.cfg.Gap / audio.FrameDuration)
	ph, pos, paused := speaking, 0, 0
	start := time.Now()
	for n := 0; ; {
		now := time.Now()
		due := int(now.Sub(start) / audio.FrameDuration)
		for ; n <= due; n++ {
			frame := c.frames.silence
			if ph == speaking {
				frame = question[pos]
				pos++
			}
			sent, err := conn.send(ctx, frame, ph != speaking)
			if err != nil {
				return err
			}
			if sent {
				c.col.clientFrames.Add(1)
				if now.Sub(start.Add(time.Duration(n)*audio.FrameDuration)) > audio.FrameDuration {
					c.col.clientLate.Add(1)
				}
			}
			switch ph {
			case speaking:
				if pos >= len(question) {
					c.st.ask(time.Now())
					ph = waiting
				}
			case pausing:
				paused++
				if paused >= gapFrames {
					ph, pos = speaking, 0
				}
			case waiting:
			}
		}
		if ph == waiting {
			if !c.st.isOpen() {
				ph, paused = pausing, 0
			} else if c.st.stalled(now, c.cfg.TurnTimeout) {
				if r, ok := c.st.end(now, timedOut); ok {
					c.col.addTurn(r)
				}
				ph, paused = pausing, 0
			}
			if ph == pausing && gapFrames == 0 {
				ph, pos = speaking, 0
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			c.stopping.Store(true)
			return conn.hangUp()
		case <-tick.C:
		}
	}
}

// serverEvent is the part of a server event a caller reads.
type serverEvent struct {
	Type         string   `json:"type"`
	Text         string   `json:"text"`
	Message      string   `json:"message"`
	VoiceToVoice *float64 `json:"voice_to_voice_ms"`
}

// playout tracks one response's audio as a listener would play it: from
// its first frame, each frame must arrive before the audio received so
// far has played out. A frame arriving more than one frame duration after
// that moment is late (the listener heard a gap); playout restarts from
// it, so one stall counts once.
type playout struct {
	// margin is the slack past the playout time (transport.lateMargin).
	margin time.Duration
	on     bool
	anchor time.Time
	media  time.Duration
}

// frame accounts a frame of d received at t and reports whether it was late.
func (p *playout) frame(t time.Time, d time.Duration) bool {
	if !p.on {
		p.on, p.anchor, p.media = true, t, d
		return false
	}
	late := t.Sub(p.anchor.Add(p.media)) > p.margin
	if late {
		p.anchor, p.media = t, 0
	}
	p.media += d
	return late
}

// arrival classes an agent frame.
type arrival int

const (
	onTime arrival = iota
	// late: the frame left a gap inside a talk spurt (sent or carried late).
	late
	// gap: the frame left a gap but starts a new talk spurt: the server had
	// nothing to send before it.
	gap
)

// agent accounts one agent audio message and classes its arrival.
func (p *playout) agent(m message) arrival {
	switch {
	case !p.frame(m.at, m.d):
		return onTime
	case m.spurt:
		return gap
	default:
		return late
	}
}

// read handles server messages until the connection ends.
func (c *caller) read(ctx context.Context, conn voiceConn) error {
	po := playout{margin: c.tr.lateMargin()}
	for {
		m, err := conn.recv(ctx)
		if err != nil {
			if c.stopping.Load() {
				return nil
			}
			return err
		}
		now, data := m.at, m.data
		if m.audio {
			if r, ok := c.st.audio(now); ok {
				c.col.addTurn(r)
			}
			c.col.serverFrames.Add(1)
			switch po.agent(m) {
			case onTime:
			case gap:
				c.col.serverGaps.Add(1)
			case late:
				c.col.serverLate.Add(1)
			}
			continue
		}
		var ev serverEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("bad event %.200s: %w", data, err)
		}
		switch ev.Type {
		case parleyv1.TypeAudioStarted, parleyv1.TypeResponseDone, parleyv1.TypeResponseInterrupted:
			po.on = false
		case parleyv1.TypeTranscriptFinal:
			if ev.Text == "" {
				if r, ok := c.st.end(now, unrecognized); ok {
					c.col.addTurn(r)
				}
			}
		case parleyv1.TypeMetrics:
			if ev.VoiceToVoice != nil {
				c.col.addServerV2V(now, time.Duration(*ev.VoiceToVoice*float64(time.Millisecond)))
			}
			// The reply is over; one that sent no audio is no answer to a caller.
			if r, ok := c.st.end(now, timedOut); ok {
				c.col.addTurn(r)
			}
		case parleyv1.TypeError:
			c.col.serverErrors.Add(1)
		}
	}
}
