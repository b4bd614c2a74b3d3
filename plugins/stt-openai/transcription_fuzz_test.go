package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/sdk"
)

// FuzzDecodeTranscription feeds arbitrary response bodies to the
// transcription decoder: it must never panic, every failure must be a
// typed *sdk.Error, the text comes back trimmed and the confidence is
// between 0 and 1.
func FuzzDecodeTranscription(f *testing.F) {
	for _, seed := range []string{
		jsonResponse("utterance 1"),
		verboseJSONResponse("utterance 2"),
		`{"text":"  "}`,
		`{"text":"x","segments":[{"avg_logprob":3.5},{"avg_logprob":-1e308}]}`,
		`{"error":{"message":"Invalid file format.","type":"invalid_request_error","param":null,"code":null}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		text, conf, err := decodeTranscription(raw)
		if err != nil {
			var e *sdk.Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if text != strings.TrimSpace(text) {
			t.Fatalf("text %q not trimmed", text)
		}
		if !(conf >= 0 && conf <= 1) {
			t.Fatalf("confidence %v outside [0, 1]", conf)
		}
	})
}
