package sphinx

import (
	"encoding/json"
	"testing"

	"github.com/parleyhq/parley/sdk/plugintest"
)

// TestConformance runs Parley's plugin conformance suite against the
// engine served in-process over the real sdk gRPC adapters, once with the
// suite's tone and once with speech.
func TestConformance(t *testing.T) {
	tests := []struct {
		name  string
		audio []byte
	}{
		{"tone", nil},
		{"speech", speech(t, "hello how are you")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(testLogger())
			t.Cleanup(func() { _ = e.Close() })
			plugintest.RunSTT(t, e, plugintest.Options{
				Settings: json.RawMessage(`{"pool_size": 1, "acquire_wait": "5s"}`),
				Audio:    tc.audio,
			})
		})
	}
}
