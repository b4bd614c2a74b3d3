package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Small local fakes of the three hosted APIs the provider plugins call, in
// their documented wire formats, so that the real plugin binaries run
// unchanged against them (base_url). They are deterministic like
// testdata/simplugin, so the fault checks of checkRuns hold for them too:
//
//   - Deepgram live (/v1/listen, WebSocket): counts the audio it receives,
//     with an interim Results message ("heard <frames>") every
//     fakePartialEvery frames when interim_results=true; Finalize and
//     CloseStream are answered with one final Results message, "heard
//     <frames> frames"; CloseStream then closes normally (1000).
//   - Anthropic Messages (/v1/messages, SSE): answers the last user message
//     with three sentences, word by word, fakeWordDelay apart.
//   - ElevenLabs text-to-speech stream (/v1/text-to-speech/{voice}/stream,
//     output_format=pcm_<rate>): fakeSpeechPerChar of a tone per character
//     of the text, streamed in chunks faster than real time.
const (
	fakeDeepgramKey   = "e2e-DUMMY-deepgram-3c77f2"
	fakeAnthropicKey  = "sk-ant-e2e-DUMMY-anthropic-4f1c9a"
	fakeElevenLabsKey = "e2e-DUMMY-elevenlabs-91aa0c"
	// fakeFrameBytes is one 20 ms frame of 16 kHz PCM16, the rate the
	// server streams to STT.
	fakeFrameBytes    = 640
	fakeFrameSeconds  = 0.02
	fakePartialEvery  = 10 // frames
	fakeWordDelay     = 150 * time.Millisecond
	fakeSpeechPerChar = 40 * time.Millisecond
	fakeChunk         = 100 * time.Millisecond
	// fakeChunkEvery is how often a chunk goes out: five times real time,
	// as hosted TTS streams.
	fakeChunkEvery = 20 * time.Millisecond
	fakeToneHz     = 220
	fakeToneAmp    = 8000
	fakeMaxBody    = 1 << 20
)

// providerFakes are the three fakes: their base URLs and how many of
// their streams are under way right now.
type providerFakes struct {
	deepgram, anthropic, elevenlabs string
	// sttLive counts Deepgram streams that have received audio and not
	// ended; llmLive Messages streams that have sent text and not ended;
	// ttsLive speech streams that have sent audio and not ended.
	sttLive, llmLive, ttsLive atomic.Int64
	// close stops the fakes (also done at cleanup); later calls do nothing.
	close func()
}

// startProviderFakes starts the three fakes for the test's lifetime.
func startProviderFakes(t *testing.T) *providerFakes {
	t.Helper()
	f := &providerFakes{}
	dg := httptest.NewServer(http.HandlerFunc(f.deepgramListen))
	an := httptest.NewServer(http.HandlerFunc(f.anthropicMessages))
	el := httptest.NewServer(http.HandlerFunc(f.elevenLabsStream))
	stop := sync.OnceFunc(func() {
		// Close waits for the handlers of connections still open.
		for _, s := range []*httptest.Server{dg, an, el} {
			s.CloseClientConnections()
			s.Close()
		}
	})
	t.Cleanup(stop)
	f.deepgram = "ws" + strings.TrimPrefix(dg.URL, "http")
	f.anthropic, f.elevenlabs, f.close = an.URL, el.URL, stop
	return f
}

// live counts a stream as under way from its first output (or input) to
// its end.
type live struct {
	n  *atomic.Int64
	on bool
}

func (l *live) start() {
	if !l.on {
		l.on = true
		l.n.Add(1)
	}
}

func (l *live) end() {
	if l.on {
		l.on = false
		l.n.Add(-1)
	}
}

// deepgramListen is the live endpoint: token auth on the handshake,
// binary audio, JSON control messages in text frames.
func (f *providerFakes) deepgramListen(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/listen" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Token "+fakeDeepgramKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}`))
		return
	}
	if r.URL.Query().Get("encoding") != "linear16" {
		http.Error(w, "encoding", http.StatusBadRequest)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer func() { _ = c.CloseNow() }()
	ctx := r.Context()
	busy := live{n: &f.sttLive}
	defer busy.end()
	interim := r.URL.Query().Get("interim_results") == "true"
	total, partials, start := 0, 0, 0.0
	results := func(text string, frames int, final, closing bool) error {
		msg, err := json.Marshal(map[string]any{
			"type": "Results", "channel_index": []int{0, 1}, "start": start, "duration": float64(frames) * fakeFrameSeconds,
			"is_final": final, "speech_final": final && closing, "from_finalize": final && !closing,
			"channel": map[string]any{"alternatives": []map[string]any{
				{"transcript": text, "confidence": 1.0, "words": []any{}},
			}},
		})
		if err != nil {
			return err
		}
		return c.Write(ctx, websocket.MessageText, msg)
	}
	final := func(closing bool) error {
		if total == 0 {
			return nil
		}
		frames := total / fakeFrameBytes
		err := results(fmt.Sprintf("heard %d frames", frames), frames, true, closing)
		start += float64(frames) * fakeFrameSeconds
		total, partials = 0, 0
		return err
	}
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			total += len(data)
			busy.start()
			// Interim results, when asked for, as the audio goes on.
			if f := total / fakeFrameBytes; interim && f/fakePartialEvery > partials {
				partials = f / fakePartialEvery
				if results(fmt.Sprintf("heard %d", f), f, false, false) != nil {
					return
				}
			}
			continue
		}
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &m) != nil {
			_ = c.Close(websocket.StatusUnsupportedData, "DATA-0000")
			return
		}
		switch m.Type {
		case "KeepAlive":
		case "Finalize":
			if final(false) != nil {
				return
			}
			busy.end()
		case "CloseStream":
			if final(true) != nil {
				return
			}
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"Metadata","request_id":"e2e","duration":0,"channels":1}`))
			_ = c.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

// anthropicMessages is POST /v1/messages with stream: true.
func (f *providerFakes) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/messages" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("x-api-key") != fakeAnthropicKey {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`))
		return
	}
	var req struct {
		Stream   bool `json:"stream"`
		Messages []struct {
			Role    string `json:"role"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, fakeMaxBody)).Decode(&req); err != nil || !req.Stream {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"type":"error","error":{"type":"invalid_request_error","message":"bad request"}}`))
		return
	}
	last := ""
	for _, m := range req.Messages {
		if m.Role != "user" {
			continue
		}
		last = ""
		for _, b := range m.Content {
			if b.Type == "text" {
				last += b.Text
			}
		}
	}
	reply := "You said " + last + ". This reply has a second sentence. And it ends with a third one."
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, ok := w.(http.Flusher)
	if !ok {
		return
	}
	send := func(name string, data any) bool {
		b, err := json.Marshal(data)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	words := strings.Fields(reply)
	if !send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_e2e", "type": "message", "role": "assistant", "content": []any{}, "model": "claude-sonnet-4-5",
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": len(strings.Fields(last)), "output_tokens": 1},
	}}) || !send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]string{"type": "text", "text": ""}}) {
		return
	}
	busy := live{n: &f.llmLive}
	defer busy.end()
	tick := time.NewTicker(fakeWordDelay)
	defer tick.Stop()
	for i, word := range words {
		if i > 0 {
			word = " " + word
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
		if !send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]string{"type": "text_delta", "text": word}}) {
			return
		}
		busy.start()
	}
	_ = send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}) &&
		send("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]int{"output_tokens": len(words)}}) &&
		send("message_stop", map[string]string{"type": "message_stop"})
}

// elevenLabsStream is POST /v1/text-to-speech/{voice_id}/stream.
func (f *providerFakes) elevenLabsStream(w http.ResponseWriter, r *http.Request) {
	voice, ok := strings.CutPrefix(r.URL.Path, "/v1/text-to-speech/")
	if !ok || !strings.HasSuffix(voice, "/stream") || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("xi-api-key") != fakeElevenLabsKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`))
		return
	}
	rate, err := strconv.Atoi(strings.TrimPrefix(r.URL.Query().Get("output_format"), "pcm_"))
	if err != nil || rate <= 0 {
		http.Error(w, `{"detail":{"status":"invalid_output_format"}}`, http.StatusBadRequest)
		return
	}
	var req struct {
		Text    string `json:"text"`
		ModelID string `json:"model_id"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, fakeMaxBody)).Decode(&req); err != nil || strings.TrimSpace(req.Text) == "" {
		http.Error(w, `{"detail":{"status":"invalid_text"}}`, http.StatusBadRequest)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "audio/pcm")
	samples := int(time.Duration(len(req.Text)) * fakeSpeechPerChar * time.Duration(rate) / time.Second)
	chunk := int(fakeChunk * time.Duration(rate) / time.Second)
	tick := time.NewTicker(fakeChunkEvery)
	defer tick.Stop()
	busy := live{n: &f.ttsLive}
	defer busy.end()
	buf := make([]byte, 0, 2*chunk)
	for at := 0; at < samples; at += chunk {
		buf = buf[:0]
		for i := at; i < min(at+chunk, samples); i++ {
			v := int16(fakeToneAmp * math.Sin(2*math.Pi*fakeToneHz*float64(i)/float64(rate)))
			buf = append(buf, byte(v), byte(uint16(v)>>8))
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
		flusher.Flush()
		busy.start()
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}
