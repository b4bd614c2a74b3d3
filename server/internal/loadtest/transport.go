package loadtest

import (
	"context"
	"fmt"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
)

// Transport names (Config.Transport, `--transport`).
const (
	TransportWS     = "ws"
	TransportWebRTC = "webrtc"
)

// message is one thing a caller received: a packet or frame of agent
// audio, or a parley.v1 JSON event.
type message struct {
	// at is when it arrived (taken by the transport's reader, not when the
	// caller got to it).
	at time.Time
	// audio is true for agent audio of duration d; data is an event otherwise.
	audio bool
	d     time.Duration
	// spurt: the frame starts a talk spurt (the RTP marker bit, RFC 3550
	// §5.1): the sender had nothing to send before it. WebSocket frames
	// carry no such mark.
	spurt bool
	data  []byte
}

// voiceConn is one connected session, as a caller sees it, whatever the transport.
type voiceConn interface {
	// send writes one 20 ms frame of the transport's frames; silent says it
	// is the silence frame. It reports whether the frame went out (a
	// WebRTC caller in DTX sends little of its silence).
	send(ctx context.Context, frame []byte, silent bool) (bool, error)
	// recv waits for the next message; an error ends the session.
	recv(ctx context.Context) (message, error)
	// hangUp ends the session as a client that is done would.
	hangUp() error
	// closeNow releases everything; safe after hangUp and more than once.
	closeNow()
}

// transport dials sessions and knows its wire.
type transport interface {
	// dial connects one session, up to its connection.established event.
	dial(ctx context.Context) (voiceConn, error)
	// lateMargin is how long after its playout time an agent frame may
	// arrive before it counts as late (playout).
	lateMargin() time.Duration
}

// frames is the question and a silence frame in a transport's wire
// format, 20 ms each, encoded once per run and shared by every caller.
type frames struct {
	question [][]byte
	silence  []byte
}

// newTransport builds cfg's transport and its frames.
func newTransport(cfg *Config) (transport, frames, error) {
	switch cfg.Transport {
	case TransportWebRTC:
		return newRTCTransport(cfg)
	case TransportWS, "":
		return newWSTransport(cfg)
	default:
		return nil, frames{}, invalid("transport", cfg.Transport, "want ws or webrtc")
	}
}

// chunks splits speech into 20 ms frames, the last one padded with silence.
func chunks(speech []int16) [][]int16 {
	var out [][]int16
	for pos := 0; pos < len(speech); pos += audio.FrameSamples {
		c := speech[pos:min(pos+audio.FrameSamples, len(speech))]
		if len(c) < audio.FrameSamples {
			c = append(append(make([]int16, 0, audio.FrameSamples), c...), make([]int16, audio.FrameSamples-len(c))...)
		}
		out = append(out, c)
	}
	return out
}

// errTransport wraps a transport set-up failure.
func errTransport(name string, err error) error {
	return fmt.Errorf("loadtest: %s transport: %w", name, err)
}
