package ws_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// BenchmarkWSInboundFrame measures one 20 ms 16 kHz frame through the whole
// inbound path over a real loopback WebSocket: client write, server read,
// rate limit, session dispatch, VAD and STT hand-off (client and server
// CPU together). Audio alternates 1 s of quiet and 1 s of speech.
func BenchmarkWSInboundFrame(b *testing.B) {
	// Frames go faster than real time and the harness's clock stands
	// still: the message-rate limit (a token bucket on that clock) is off.
	h := newHarness(b, scripted(nil), func(s *setup) { s.ws.MaxMessagesPerSecond = 0 })
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, h.url, &websocket.DialOptions{Subprotocols: []string{parleyv1.Version}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.CloseNow() }()
	read := func(want string) error {
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return err
			}
			if containsType(data, want) {
				return nil
			}
		}
	}
	if err := read(parleyv1.TypeConnectionEstablished); err != nil {
		b.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000}`)); err != nil {
		b.Fatal(err)
	}
	if err := read(parleyv1.TypeSessionUpdated); err != nil {
		b.Fatal(err)
	}
	var samples []int16
	samples = append(samples, sessiontest.Silence(time.Second, audio.SampleRate)...)
	samples = append(samples, sessiontest.Speech(time.Second, audio.SampleRate)...)
	frames := sessiontest.Frames(sessiontest.PCM(samples), audio.SampleRate)
	// Server events (VAD, transcripts) are read and dropped concurrently.
	events := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() { events <- read(parleyv1.TypePong) }()
	for i := 0; i < b.N; i++ {
		if err := c.Write(ctx, websocket.MessageBinary, frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
		b.Fatal(err)
	}
	if err := <-events; err != nil { // the pong follows every frame's processing
		b.Fatal(err)
	}
	b.StopTimer()
}

func containsType(data []byte, typ string) bool {
	return bytes.Contains(data, []byte(`"type":"`+typ+`"`))
}
