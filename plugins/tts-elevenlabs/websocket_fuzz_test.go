package main

import (
	"errors"
	"testing"

	"github.com/parleyhq/parley/sdk"
)

// FuzzDecodeWSMessage feeds arbitrary server messages of the stream-input
// endpoint to the decoder: it must never panic, every failure must be a
// typed *sdk.Error, a message with audio decodes to some bytes, and a
// message without audio has no bytes or alignment characters counted.
func FuzzDecodeWSMessage(f *testing.F) {
	for _, seed := range []string{
		audioMessage([]byte{1, 2, 3, 4}, "Hello there. "),
		audioMessage([]byte{1, 2, 3}, "Très bien "),
		`{"audio":null,"isFinal":true}`,
		`{"audio":"","isFinal":null,"alignment":{"chars":["a"]}}`,
		`{"message":"Input text too long","error":"invalid_request","code":1008}`,
		`{"message":"Invalid API key"}`,
		`{"audio":"not base64!"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeWSMessage(data)
		if err != nil {
			var e *sdk.Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if !m.audio {
			if len(m.pcm) != 0 || m.chars != 0 {
				t.Fatalf("no audio but %d bytes, %d chars", len(m.pcm), m.chars)
			}
			return
		}
		if len(m.pcm) == 0 {
			t.Fatalf("audio message decoded to nothing: %q", data)
		}
	})
}
