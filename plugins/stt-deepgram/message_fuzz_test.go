package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/sdk"
)

// FuzzDecodeMessage feeds arbitrary text frames to the live-message
// decoder: it must never panic, every failure must be a typed *sdk.Error
// that does not echo the frame, and a Results transcript comes back
// trimmed.
func FuzzDecodeMessage(f *testing.F) {
	for _, seed := range []string{
		results("hello there", 0, 1.2, true, true, false),
		results("hel", 0, 0.4, false, false, false),
		results("", 1.2, 0.3, true, false, true),
		metadataMsg,
		`{"type":"SpeechStarted","channel":[0],"timestamp":0.0}`,
		`{"type":"UtteranceEnd","channel":[0,1],"last_word_end":0.9}`,
		`{"type":"Error","description":"Failed to process audio","message":"decoder error","variant":"DATA-0001"}`,
		`{"type":"Results","channel":[0]}`,
		`{"type":"Results"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMessage(data)
		if err != nil {
			var e *sdk.Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if e.Code != sdk.CodeUnavailable {
				t.Fatalf("code %s, want unavailable", e.Code)
			}
			if len(data) > 8 && strings.Contains(e.Message, string(data)) {
				t.Fatalf("error message echoes the frame: %q", e.Message)
			}
			return
		}
		if m.text != strings.TrimSpace(m.text) {
			t.Fatalf("transcript %q not trimmed", m.text)
		}
		if m.Type != "Results" && (m.text != "" || m.confidence != 0) {
			t.Fatalf("%q message with a transcript %q", m.Type, m.text)
		}
	})
}
