package realtime_test

import (
	"encoding/base64"
	"testing"

	"github.com/parleyhq/parley/server/internal/protocol/realtime"
	"github.com/parleyhq/parley/server/internal/protocol/wsclose"
	"github.com/parleyhq/parley/server/internal/session"
)

// nullWire drops what it is sent.
type nullWire struct{}

func (nullWire) SendText([]byte) error      { return nil }
func (nullWire) Close(wsclose.Code, string) {}

// BenchmarkAudioDelta: one 20 ms frame of 24 kHz PCM out as a
// response.output_audio.delta event (base64 + JSON), the per-frame cost
// /ws/voice does not have (it sends the frame as is).
// Run: go test -run '^$' -bench . -benchmem ./server/internal/protocol/realtime/
func BenchmarkAudioDelta(b *testing.B) {
	c := realtime.NewConn(nullWire{}, "")
	if err := c.Event(session.ResponseStarted{ResponseID: "r1"}); err != nil {
		b.Fatal(err)
	}
	frame := make([]byte, 960)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Audio(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend: one 20 ms input_audio_buffer.append of 24 kHz PCM
// parsed into PCM for the session.
func BenchmarkAppend(b *testing.B) {
	c := realtime.NewConn(nullWire{}, "")
	msg := []byte(`{"type":"input_audio_buffer.append","audio":"` + base64.StdEncoding.EncodeToString(make([]byte, 960)) + `"}`)
	b.SetBytes(960)
	b.ReportAllocs()
	for b.Loop() {
		if in := c.Handle(msg); len(in.Audio) != 960 {
			b.Fatal("no audio")
		}
	}
}
