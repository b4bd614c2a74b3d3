package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

// Wire settings of a simulated caller.
const (
	// outputRate is the agent audio rate the caller asks for.
	outputRate = audio.SampleRate
	// readLimit bounds one message from the server.
	readLimit = 1 << 20
	// closeReason is sent when the run ends a caller.
	closeReason = "load test over"
	// bytesPerSample of PCM16.
	bytesPerSample = 2
)

// sessionUpdate asks for 16 kHz PCM both ways.
const sessionUpdate = `{"type":"` + parleyv1.TypeSessionUpdate + `","input_sample_rate":16000,"output_sample_rate":16000}`

// caller is one simulated user on /ws/voice.
type caller struct {
	cfg *Config
	url string
	col *collector
	st  turnState
	// stopping is set once the run told the caller to hang up.
	stopping atomic.Bool
}

// run dials, talks until stop is closed (nil) or the session breaks
// (the error), and hangs up. ctx bounds everything.
func (c *caller) run(ctx context.Context, stop <-chan struct{}) error {
	conn, err := c.dial(ctx)
	if err != nil {
		c.col.sessionFailed(err)
		return err
	}
	defer func() { _ = conn.CloseNow() }()
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

func (c *caller) dial(ctx context.Context) (*websocket.Conn, error) {
	opts := &websocket.DialOptions{Subprotocols: []string{parleyv1.Version}}
	if c.cfg.Token != "" {
		opts.HTTPHeader = http.Header{"Authorization": []string{"Bearer " + c.cfg.Token}}
	}
	hctx, cancel := context.WithTimeout(ctx, c.cfg.TurnTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(hctx, c.url, opts)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(readLimit)
	_, hello, err := conn.Read(hctx)
	if err != nil {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	var ev struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(hello, &ev); err != nil || ev.Type != parleyv1.TypeConnectionEstablished {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("%w: %.200s", ErrHandshake, hello)
	}
	if err := conn.Write(hctx, websocket.MessageText, []byte(sessionUpdate)); err != nil {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("session.update: %w", err)
	}
	return conn, nil
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
func (c *caller) send(ctx context.Context, conn *websocket.Conn, stop <-chan struct{}) error {
	tick := time.NewTicker(audio.FrameDuration)
	defer tick.Stop()
	silence := make([]int16, audio.FrameSamples)
	speech := c.cfg.Speech
	gapFrames := int(c.cfg.Gap / audio.FrameDuration)
	buf := make([]byte, 0, audio.FrameBytes)
	ph, pos, paused := speaking, 0, 0
	start := time.Now()
	for n := 0; ; {
		now := time.Now()
		due := int(now.Sub(start) / audio.FrameDuration)
		for ; n <= due; n++ {
			chunk := silence
			if ph == speaking {
				chunk = speech[pos:min(pos+audio.FrameSamples, len(speech))]
				pos += len(chunk)
			}
			buf = audio.EncodePCM16LE(buf[:0], chunk)
			if len(chunk) < audio.FrameSamples {
				buf = append(buf, make([]byte, (audio.FrameSamples-len(chunk))*bytesPerSample)...)
			}
			if err := conn.Write(ctx, websocket.MessageBinary, buf); err != nil {
				return fmt.Errorf("send audio: %w", err)
			}
			c.col.clientFrames.Add(1)
			if now.Sub(start.Add(time.Duration(n)*audio.FrameDuration)) > audio.FrameDuration {
				c.col.clientLate.Add(1)
			}
			switch ph {
			case speaking:
				if pos >= len(speech) {
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
			if err := conn.Close(websocket.StatusNormalClosure, closeReason); err != nil {
				return fmt.Errorf("close: %w", err)
			}
			return nil
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
	late := t.Sub(p.anchor.Add(p.media)) > audio.FrameDuration
	if late {
		p.anchor, p.media = t, 0
	}
	p.media += d
	return late
}

// read handles server messages until the connection ends.
func (c *caller) read(ctx context.Context, conn *websocket.Conn) error {
	var po playout
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			if c.stopping.Load() {
				return nil
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return fmt.Errorf("closed by server: %d %s: %w", ce.Code, ce.Reason, err)
			}
			return fmt.Errorf("read: %w", err)
		}
		now := time.Now()
		if typ == websocket.MessageBinary {
			if r, ok := c.st.audio(now); ok {
				c.col.addTurn(r)
			}
			c.col.serverFrames.Add(1)
			d := time.Duration(len(data)/bytesPerSample) * time.Second / outputRate
			if po.frame(now, d) {
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
