// Package providerfake serves small local fakes of the three hosted APIs
// the provider plugins call — Deepgram live transcription, the Anthropic
// Messages API and ElevenLabs text-to-speech streaming — in their
// documented wire formats, so the real plugin binaries run unchanged
// against them (each plugin's base_url). The end-to-end suite runs its
// fault tests on them, and `provider-fakes` (server/cmd/provider-fakes)
// serves them for capacity runs of the provider configuration without a
// network or a key. They are deterministic:
//
//   - Deepgram live (/v1/listen, WebSocket): counts the audio it receives,
//     with an interim Results message ("heard <frames>") every
//     partialEvery frames when interim_results=true; Finalize and
//     CloseStream are answered with one final Results message, "heard
//     <frames> frames"; CloseStream then closes normally (1000).
//   - Anthropic Messages (/v1/messages, SSE): answers the last user message
//     with three sentences, word by word, wordDelay apart.
//   - ElevenLabs text-to-speech stream (/v1/text-to-speech/{voice}/stream,
//     output_format=pcm_<rate>): speechPerChar of a tone per character of
//     the text, streamed in chunks faster than real time.
//
// Each checks its API key (DeepgramKey, AnthropicKey, ElevenLabsKey, all
// dummies) and answers a wrong one as the provider documents.
package providerfake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The dummy keys the fakes accept.
const (
	DeepgramKey   = "fake-DUMMY-deepgram-3c77f2"
	AnthropicKey  = "sk-ant-fake-DUMMY-anthropic-4f1c9a"
	ElevenLabsKey = "fake-DUMMY-elevenlabs-91aa0c"
)

// Fake behaviour.
const (
	// frameBytes is one 20 ms frame of 16 kHz PCM16, the rate the server
	// streams to STT.
	frameBytes    = 640
	frameSeconds  = 0.02
	partialEvery  = 10 // frames
	wordDelay     = 150 * time.Millisecond
	speechPerChar = 40 * time.Millisecond
	chunkLen      = 100 * time.Millisecond
	// chunkEvery is how often a chunk goes out: five times real time, as
	// hosted TTS streams.
	chunkEvery = 20 * time.Millisecond
	toneHz     = 220
	toneAmp    = 8000
	maxBody    = 1 << 20
)

// Fakes are the three fakes and how many of their streams are under way.
// The zero value is ready to serve.
type Fakes struct {
	// STTLive counts Deepgram streams that have received audio and not
	// ended; LLMLive Messages streams that have sent text and not ended;
	// TTSLive speech streams that have sent audio and not ended.
	STTLive, LLMLive, TTSLive atomic.Int64
}

// Deepgram is the live transcription endpoint (serve it on its own
// listener; clients use ws://host:port as base_url).
func (f *Fakes) Deepgram() http.Handler { return http.HandlerFunc(f.deepgramListen) }

// Anthropic is the Messages API (base_url http://host:port).
func (f *Fakes) Anthropic() http.Handler { return http.HandlerFunc(f.anthropicMessages) }

// ElevenLabs is the text-to-speech stream API (base_url http://host:port).
func (f *Fakes) ElevenLabs() http.Handler { return http.HandlerFunc(f.elevenLabsStream) }

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
func (f *Fakes) deepgramListen(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/listen" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Token "+DeepgramKey {
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
	busy := live{n: &f.STTLive}
	defer busy.end()
	interim := r.URL.Query().Get("interim_results") == "true"
	total, partials, start := 0, 0, 0.0
	results := func(text string, frames int, final, closing bool) error {
		msg, err := json.Marshal(map[string]any{
			"type": "Results", "channel_index": []int{0, 1}, "start": start, "duration": float64(frames) * frameSeconds,
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
		frames := total / frameBytes
		err := results(fmt.Sprintf("heard %d frames", frames), frames, true, closing)
		start += float64(frames) * frameSeconds
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
			if f := total / frameBytes; interim && f/partialEvery > partials {
				partials = f / partialEvery
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
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"Metadata","request_id":"parley-fake","duration":0,"channels":1}`))
			_ = c.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

// anthropicMessages is POST /v1/messages with stream: true.
func (f *Fakes) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/messages" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("x-api-key") != AnthropicKey {
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
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil || !req.Stream {
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
		"id": "msg_parley_fake", "type": "message", "role": "assistant", "content": []any{}, "model": "claude-sonnet-4-5",
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": len(strings.Fields(last)), "output_tokens": 1},
	}}) || !send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]string{"type": "text", "text": ""}}) {
		return
	}
	busy := live{n: &f.LLMLive}
	defer busy.end()
	tick := time.NewTicker(wordDelay)
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
func (f *Fakes) elevenLabsStream(w http.ResponseWriter, r *http.Request) {
	voice, ok := strings.CutPrefix(r.URL.Path, "/v1/text-to-speech/")
	if !ok || !strings.HasSuffix(voice, "/stream") || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("xi-api-key") != ElevenLabsKey {
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
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil || strings.TrimSpace(req.Text) == "" {
		http.Error(w, `{"detail":{"status":"invalid_text"}}`, http.StatusBadRequest)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "audio/pcm")
	samples := int(time.Duration(len(req.Text)) * speechPerChar * time.Duration(rate) / time.Second)
	chunk := int(chunkLen * time.Duration(rate) / time.Second)
	tick := time.NewTicker(chunkEvery)
	defer tick.Stop()
	busy := live{n: &f.TTSLive}
	defer busy.end()
	buf := make([]byte, 0, 2*chunk)
	for at := 0; at < samples; at += chunk {
		buf = buf[:0]
		for i := at; i < min(at+chunk, samples); i++ {
			v := int16(toneAmp * math.Sin(2*math.Pi*toneHz*float64(i)/float64(rate)))
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
