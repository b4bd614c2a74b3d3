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
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Small local fakes of the three hosted APIs the provider plugins call, in
// their documented wire formats, so that the real plugin binaries run
// unchanged against them (base_url). They are deterministic like
// testdata/simplugin, so the fault checks of checkRuns hold for them too:
//
//   - Deepgram live (/v1/listen, WebSocket): counts the audio it receives;
//     Finalize and CloseStream are answered with one final Results message,
//     "heard <frames> frames"; CloseStream then closes normally (1000).
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

// providerFakes are the three fakes' base URLs.
type providerFakes struct {
	deepgram, anthropic, elevenlabs string
	// close stops the fakes (also done at cleanup); later calls do nothing.
	close func()
}

// startProviderFakes starts the three fakes for the test's lifetime.
func startProviderFakes(t *testing.T) providerFakes {
	t.Helper()
	dg := httptest.NewServer(http.HandlerFunc(fakeDeepgramListen))
	an := httptest.NewServer(http.HandlerFunc(fakeAnthropicMessages))
	el := httptest.NewServer(http.HandlerFunc(fakeElevenLabsStream))
	stop := sync.OnceFunc(func() {
		// Close waits for the handlers of connections still open.
		for _, s := range []*httptest.Server{dg, an, el} {
			s.CloseClientConnections()
			s.Close()
		}
	})
	t.Cleanup(stop)
	return providerFakes{
		deepgram:   "ws" + strings.TrimPrefix(dg.URL, "http"),
		anthropic:  an.URL,
		elevenlabs: el.URL,
		close:      stop,
	}
}

// fakeDeepgramListen is the live endpoint: token auth on the handshake,
// binary audio, JSON control messages in text frames.
func fakeDeepgramListen(w http.ResponseWriter, r *http.Request) {
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
	total, start := 0, 0.0
	final := func(closing bool) error {
		if total == 0 {
			return nil
		}
		frames := total / fakeFrameBytes
		dur := float64(frames) * 0.02
		msg, err := json.Marshal(map[string]any{
			"type": "Results", "channel_index": []int{0, 1}, "start": start, "duration": dur,
			"is_final": true, "speech_final": closing, "from_finalize": !closing,
			"channel": map[string]any{"alternatives": []map[string]any{
				{"transcript": fmt.Sprintf("heard %d frames", frames), "confidence": 1.0, "words": []any{}},
			}},
		})
		if err != nil {
			return err
		}
		start += dur
		total = 0
		return c.Write(ctx, websocket.MessageText, msg)
	}
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			total += len(data)
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

// fakeAnthropicMessages is POST /v1/messages with stream: true.
func fakeAnthropicMessages(w http.ResponseWriter, r *http.Request) {
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
	}
	_ = send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}) &&
		send("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]int{"output_tokens": len(words)}}) &&
		send("message_stop", map[string]string{"type": "message_stop"})
}

// fakeElevenLabsStream is POST /v1/text-to-speech/{voice_id}/stream.
func fakeElevenLabsStream(w http.ResponseWriter, r *http.Request) {
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
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}
