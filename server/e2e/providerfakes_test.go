package e2e

import (
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parleyhq/parley/server/internal/providerfake"
)

// The provider keys the fakes accept (dummies; see dummySecrets).
const (
	fakeDeepgramKey   = providerfake.DeepgramKey
	fakeAnthropicKey  = providerfake.AnthropicKey
	fakeElevenLabsKey = providerfake.ElevenLabsKey
)

// providerFakes are the local fakes of Deepgram, Anthropic and ElevenLabs
// (package providerfake), each on its own loopback listener: their base
// URLs and how many of their streams are under way right now.
type providerFakes struct {
	deepgram, anthropic, elevenlabs string
	sttLive, llmLive, ttsLive       *atomic.Int64
	// close stops the fakes (also done at cleanup); later calls do nothing.
	close func()
}

// startProviderFakes starts the three fakes for the test's lifetime.
func startProviderFakes(t *testing.T) *providerFakes {
	t.Helper()
	fakes := &providerfake.Fakes{}
	dg := httptest.NewServer(fakes.Deepgram())
	an := httptest.NewServer(fakes.Anthropic())
	el := httptest.NewServer(fakes.ElevenLabs())
	stop := sync.OnceFunc(func() {
		// Close waits for the handlers of connections still open.
		for _, s := range []*httptest.Server{dg, an, el} {
			s.CloseClientConnections()
			s.Close()
		}
	})
	t.Cleanup(stop)
	return &providerFakes{
		deepgram: "ws" + strings.TrimPrefix(dg.URL, "http"), anthropic: an.URL, elevenlabs: el.URL,
		sttLive: &fakes.STTLive, llmLive: &fakes.LLMLive, ttsLive: &fakes.TTSLive, close: stop,
	}
}
