package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "sk-test-456"

// upload is one multipart request as the fake saw it.
type upload struct {
	Path        string
	Auth        string
	Fields      map[string]string
	FileName    string
	FileType    string
	File        []byte
	ContentType string
}

// fakeOpenAI reproduces POST /v1/audio/transcriptions: a multipart form
// with a file part and text fields, answered with {"text": ...} (json) or
// {"task","language","duration","text","segments":[...]} (verbose_json).
type fakeOpenAI struct {
	mu      sync.Mutex
	uploads []upload
	// respond answers upload n (0-based); nil answers "utterance n".
	respond func(w http.ResponseWriter, r *http.Request, n int, u upload)
}

func (f *fakeOpenAI) handler(w http.ResponseWriter, r *http.Request) {
	u := upload{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Fields: map[string]string{}, ContentType: r.Header.Get("Content-Type")}
	_, params, err := mime.ParseMediaType(u.ContentType)
	if err != nil {
		http.Error(w, `{"error":{"message":"bad content type"}}`, http.StatusBadRequest)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		data, _ := io.ReadAll(part)
		if part.FormName() == "file" {
			u.FileName, u.FileType, u.File = part.FileName(), part.Header.Get("Content-Type"), data
			continue
		}
		u.Fields[part.FormName()] = string(data)
	}
	f.mu.Lock()
	n := len(f.uploads)
	f.uploads = append(f.uploads, u)
	respond := f.respond
	f.mu.Unlock()
	if respond != nil {
		respond(w, r, n, u)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if u.Fields["response_format"] == formatVerboseJSON {
		_, _ = io.WriteString(w, verboseJSONResponse("utterance "+string(rune('0'+n))))
		return
	}
	_, _ = io.WriteString(w, jsonResponse("utterance "+string(rune('0'+n))))
}

// jsonResponse is a response_format=json transcription of text.
func jsonResponse(text string) string {
	return `{"text":"` + text + `"}`
}

// verboseJSONResponse is a response_format=verbose_json transcription of
// text, in two segments.
func verboseJSONResponse(text string) string {
	return `{"task":"transcribe","language":"english","duration":1.0,"text":"` + text + `",` +
		`"segments":[{"id":0,"seek":0,"start":0.0,"end":0.5,"text":" utterance","tokens":[50364],"temperature":0.0,` +
		`"avg_logprob":-0.1,"compression_ratio":1.0,"no_speech_prob":0.01},` +
		`{"id":1,"seek":0,"start":0.5,"end":1.0,"text":" n","tokens":[50365],"temperature":0.0,` +
		`"avg_logprob":-0.3,"compression_ratio":1.0,"no_speech_prob":0.02}]}`
}

func (f *fakeOpenAI) seen() []upload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upload(nil), f.uploads...)
}

func newFake(t *testing.T) (*fakeOpenAI, *httptest.Server) {
	t.Helper()
	f := &fakeOpenAI{}
	srv := httptest.NewServer(http.HandlerFunc(f.handler))
	t.Cleanup(srv.Close)
	return f, srv
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func configured(t *testing.T, baseURL string, extra map[string]any) *plugin {
	t.Helper()
	p := newPlugin(slog.New(slog.DiscardHandler), env(map[string]string{defaultAPIKeyEnv: testKey}))
	settings := map[string]any{"base_url": baseURL + "/v1"}
	for k, v := range extra {
		settings[k] = v
	}
	raw, err := json.Marshal(settings)
	require.NoError(t, err)
	require.NoError(t, p.Configure(context.Background(), raw))
	t.Cleanup(func() { p.cfg.client.CloseIdleConnections() })
	return p
}

func pcm(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*3)
	}
	return b
}

// parseWAV checks a PCM16 mono WAV header field by field and returns the
// rate and the data.
func parseWAV(t *testing.T, b []byte) (int, []byte) {
	t.Helper()
	require.GreaterOrEqual(t, len(b), 44)
	assert.Equal(t, "RIFF", string(b[0:4]))
	assert.Equal(t, uint32(len(b)-8), binary.LittleEndian.Uint32(b[4:]), "RIFF size")
	assert.Equal(t, "WAVE", string(b[8:12]))
	assert.Equal(t, "fmt ", string(b[12:16]))
	assert.Equal(t, uint32(16), binary.LittleEndian.Uint32(b[16:]), "fmt size")
	assert.Equal(t, uint16(1), binary.LittleEndian.Uint16(b[20:]), "PCM")
	assert.Equal(t, uint16(1), binary.LittleEndian.Uint16(b[22:]), "mono")
	rate := int(binary.LittleEndian.Uint32(b[24:]))
	assert.Equal(t, uint32(rate*2), binary.LittleEndian.Uint32(b[28:]), "byte rate")
	assert.Equal(t, uint16(2), binary.LittleEndian.Uint16(b[32:]), "block align")
	assert.Equal(t, uint16(16), binary.LittleEndian.Uint16(b[34:]), "bits per sample")
	assert.Equal(t, "data", string(b[36:40]))
	assert.Equal(t, uint32(len(b)-44), binary.LittleEndian.Uint32(b[40:]), "data size")
	return rate, b[44:]
}

func TestWAVHeaderBytes(t *testing.T) {
	got := wavFile([]byte{1, 2, 3, 4}, 16000)
	want := []byte{
		'R', 'I', 'F', 'F', 40, 0, 0, 0, 'W', 'A', 'V', 'E',
		'f', 'm', 't', ' ', 16, 0, 0, 0, 1, 0, 1, 0,
		0x80, 0x3e, 0, 0, // 16000
		0x00, 0x7d, 0, 0, // 32000 bytes/s
		2, 0, 16, 0,
		'd', 'a', 't', 'a', 4, 0, 0, 0, 1, 2, 3, 4,
	}
	assert.Equal(t, want, got)
}

func TestOneFinalPerUtterance(t *testing.T) {
	fake, srv := newFake(t)
	p := configured(t, srv.URL, map[string]any{"model": "gpt-4o-transcribe", "prompt": "Parley, Deepgram"})
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{SampleRate: 16000, Language: "en-US", InterimResults: true})
	require.NoError(t, err)
	first := append(pcm(3200, 1), pcm(3200, 2)...) // 0.2 s
	require.NoError(t, s.SendAudio(first[:3200]))
	require.NoError(t, s.SendAudio(first[3200:]))
	require.NoError(t, s.Flush())
	ev, err := providertest.RecvWithin(t, s)
	require.NoError(t, err)
	assert.Equal(t, sdk.TranscriptEvent{Text: "utterance 0", Final: true, Start: 0, End: 200 * time.Millisecond}, ev)

	second := pcm(1600, 9) // 0.05 s
	require.NoError(t, s.SendAudio(second))
	require.NoError(t, s.CloseSend())
	events, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, []sdk.TranscriptEvent{{Text: "utterance 1", Final: true, Start: 200 * time.Millisecond, End: 250 * time.Millisecond}}, events)

	ups := fake.seen()
	require.Len(t, ups, 2)
	for i, u := range ups {
		assert.Equal(t, "/v1/audio/transcriptions", u.Path)
		assert.Equal(t, "Bearer "+testKey, u.Auth)
		assert.True(t, strings.HasPrefix(u.ContentType, "multipart/form-data; boundary="), u.ContentType)
		assert.Equal(t, map[string]string{
			"model": "gpt-4o-transcribe", "response_format": "json", "language": "en", "prompt": "Parley, Deepgram",
		}, u.Fields)
		assert.Equal(t, "utterance.wav", u.FileName)
		assert.Equal(t, "audio/wav", u.FileType)
		rate, data := parseWAV(t, u.File)
		assert.Equal(t, 16000, rate)
		assert.Equal(t, [][]byte{first, second}[i], data, "upload %d carries exactly its utterance", i)
	}
}

func TestVerboseJSONGivesConfidence(t *testing.T) {
	fake, srv := newFake(t)
	p := configured(t, srv.URL, map[string]any{"response_format": "verbose_json", "language": "fr"})
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{SampleRate: 8000})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio(pcm(800, 0)))
	require.NoError(t, s.CloseSend())
	events, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, events, 1)
	want := float32((math.Exp(-0.1) + math.Exp(-0.3)) / 2)
	assert.InDelta(t, want, events[0].Confidence, 1e-6)
	assert.Equal(t, 50*time.Millisecond, events[0].End)
	ups := fake.seen()
	require.Len(t, ups, 1)
	assert.Equal(t, "fr", ups[0].Fields["language"], "settings language when the stream gives none")
	assert.Equal(t, "verbose_json", ups[0].Fields["response_format"])
	rate, _ := parseWAV(t, ups[0].File)
	assert.Equal(t, 8000, rate)
}

func TestLongUtterancesAreAutoFlushed(t *testing.T) {
	fake, srv := newFake(t)
	p := configured(t, srv.URL, map[string]any{"max_utterance_seconds": 0.1}) // 3200 bytes at 16 kHz
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{SampleRate: 16000})
	require.NoError(t, err)
	audio := pcm(8000, 5)
	require.NoError(t, s.SendAudio(audio))
	require.NoError(t, s.CloseSend())
	events, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, events, 3)
	assert.Equal(t, []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond},
		[]time.Duration{events[0].Start, events[1].Start, events[2].Start})
	assert.Equal(t, 250*time.Millisecond, events[2].End)
	var sent []byte
	for _, u := range fake.seen() {
		_, data := parseWAV(t, u.File)
		assert.LessOrEqual(t, len(data), 3200)
		sent = append(sent, data...)
	}
	assert.Equal(t, audio, sent, "no audio lost or reordered across auto-flushes")
}

func TestNothingToSayMakesNoRequestOrEvent(t *testing.T) {
	fake, srv := newFake(t)
	fake.respond = func(w http.ResponseWriter, _ *http.Request, _ int, _ upload) {
		_, _ = io.WriteString(w, `{"text":"  "}`)
	}
	p := configured(t, srv.URL, nil)
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{})
	require.NoError(t, err)
	require.NoError(t, s.Flush()) // no audio: no request
	require.NoError(t, s.SendAudio(pcm(320, 0)))
	require.NoError(t, s.Flush()) // silence: empty text, no event
	require.NoError(t, s.CloseSend())
	events, err := providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	assert.Empty(t, events)
	assert.Len(t, fake.seen(), 1)
}

func TestKeyIsOptionalForCompatibleServers(t *testing.T) {
	fake, srv := newFake(t)
	p := newPlugin(slog.New(slog.DiscardHandler), env(nil))
	require.NoError(t, p.Configure(t.Context(), json.RawMessage(`{"base_url":"`+srv.URL+`/v1","model":"Systran/faster-whisper-small"}`)))
	t.Cleanup(func() { p.cfg.client.CloseIdleConnections() })
	s, err := p.Transcribe(t.Context(), sdk.STTConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio(pcm(320, 0)))
	require.NoError(t, s.CloseSend())
	_, err = providertest.Collect(t, s)
	require.ErrorIs(t, err, io.EOF)
	ups := fake.seen()
	require.Len(t, ups, 1)
	assert.Empty(t, ups[0].Auth)
	assert.NotContains(t, ups[0].Fields, "language")
}

func TestProviderErrorsAreMapped(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		code       sdk.Code
		retryAfter time.Duration
	}{
		{"bad request", 400, nil, `{"error":{"message":"Invalid file format.","type":"invalid_request_error","param":null,"code":null}}`, sdk.CodeInvalidArgument, 0},
		{"bad key", 401, nil, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`, sdk.CodeUnauthenticated, 0},
		{"forbidden", 403, nil, `{"error":{"message":"forbidden","type":"request_forbidden"}}`, sdk.CodePermissionDenied, 0},
		{"rate limited", 429, map[string]string{"Retry-After": "4"}, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, sdk.CodeResourceExhausted, 4 * time.Second},
		{"server error", 500, nil, `{"error":{"message":"The server had an error","type":"server_error"}}`, sdk.CodeUnavailable, 0},
		{"unavailable", 503, nil, `upstream connect error`, sdk.CodeUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFake(t)
			fake.respond = func(w http.ResponseWriter, _ *http.Request, _ int, _ upload) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}
			p := configured(t, srv.URL, nil)
			s, err := p.Transcribe(t.Context(), sdk.STTConfig{})
			require.NoError(t, err)
			require.NoError(t, s.SendAudio(pcm(320, 0)))
			require.NoError(t, s.CloseSend())
			_, err = providertest.Collect(t, s)
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.code, se.Code, "%v", se)
			assert.Equal(t, tt.retryAfter, se.RetryAfter)
			assert.NotContains(t, se.Error(), testKey)
		})
	}
}

func TestAudioKeepsFlowingDuringASlowUploadAndCancelIsPrompt(t *testing.T) {
	fake, srv := newFake(t)
	uploading := make(chan struct{}, 1)
	fake.respond = func(_ http.ResponseWriter, r *http.Request, _ int, _ upload) {
		uploading <- struct{}{}
		<-r.Context().Done()
	}
	p := configured(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	s, err := p.Transcribe(ctx, sdk.STTConfig{})
	require.NoError(t, err)
	require.NoError(t, s.SendAudio(pcm(320, 0)))
	require.NoError(t, s.Flush())
	<-uploading
	sent := make(chan error, 1)
	go func() { // the next utterance is taken while the first uploads
		for range 10 {
			if err := s.SendAudio(pcm(320, 1)); err != nil {
				sent <- err
				return
			}
		}
		sent <- s.Flush()
	}()
	select {
	case err := <-sent:
		require.NoError(t, err)
	case <-time.After(providertest.Liveness):
		t.Fatal("SendAudio blocked while an upload was in flight")
	}
	cancel()
	_, err = providertest.Collect(t, s)
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err), "%v", err)
}

func TestTransportFailuresAreUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request, n int, u upload)
		extra   map[string]any
		message string
	}{
		{
			name: "connection dropped before the answer",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int, _ upload) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			},
		},
		{
			name: "answer cut mid-body",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int, _ upload) {
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, `{"text":"hel`)
				w.(http.Flusher).Flush()
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			},
			message: "stream ended before completion",
		},
		{
			name: "no answer within request_timeout",
			respond: func(_ http.ResponseWriter, r *http.Request, _ int, _ upload) {
				<-r.Context().Done()
			},
			extra:   map[string]any{"request_timeout": "50ms"},
			message: "no transcription within 50ms",
		},
		{
			name: "malformed answer",
			respond: func(w http.ResponseWriter, _ *http.Request, _ int, _ upload) {
				_, _ = io.WriteString(w, `<html>gateway</html>`)
			},
			message: "malformed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFake(t)
			fake.respond = tt.respond
			p := configured(t, srv.URL, tt.extra)
			s, err := p.Transcribe(t.Context(), sdk.STTConfig{})
			require.NoError(t, err)
			require.NoError(t, s.SendAudio(pcm(320, 0)))
			require.NoError(t, s.CloseSend())
			_, err = providertest.Collect(t, s)
			require.Error(t, err)
			assert.NotErrorIs(t, err, io.EOF, "never a silent end")
			assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err), "%v", err)
			assert.Contains(t, err.Error(), tt.message)
		})
	}
}

func TestConfigureRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		env      map[string]string
		field    string
	}{
		{"unknown field", `{"bogus":1}`, nil, "bogus"},
		{"wrong type", `{"model":1}`, nil, "model"},
		{"bad response format", `{"response_format":"srt"}`, nil, "response_format"},
		{"bad max utterance", `{"max_utterance_seconds":0}`, nil, "max_utterance_seconds"},
		{"bad base url", `{"base_url":"127.0.0.1:9000"}`, nil, "base_url"},
		{"missing key for api.openai.com", `{}`, map[string]string{}, "api_key_env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := tt.env
			if vars == nil {
				vars = map[string]string{defaultAPIKeyEnv: testKey}
			}
			p := newPlugin(slog.New(slog.DiscardHandler), env(vars))
			err := p.Configure(t.Context(), json.RawMessage(tt.settings))
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, sdk.CodeInvalidArgument, se.Code)
			assert.Equal(t, tt.field, se.Details["field"], "message: %s", se.Message)
		})
	}
}

func TestTranscribeRejectsBadStreamConfig(t *testing.T) {
	_, srv := newFake(t)
	p := configured(t, srv.URL, map[string]any{"max_utterance_seconds": 500})
	for name, sc := range map[string]sdk.STTConfig{
		"sample_rate":           {SampleRate: 4000},
		"encoding":              {Encoding: "opus"},
		"max_utterance_seconds": {SampleRate: 48000}, // 500 s at 48 kHz is over 25 MB
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Transcribe(t.Context(), sc)
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, sdk.CodeInvalidArgument, se.Code)
			assert.Equal(t, name, se.Details["field"])
		})
	}
	unconfigured := newPlugin(slog.New(slog.DiscardHandler), env(nil))
	_, err := unconfigured.Transcribe(t.Context(), sdk.STTConfig{})
	assert.Equal(t, sdk.CodeFailedPrecondition, sdk.CodeOf(err))
}

func TestInfoSaysFinalOnly(t *testing.T) {
	p := newPlugin(slog.New(slog.DiscardHandler), env(nil))
	info, err := p.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sdk.KindSTT, info.Kind)
	assert.Equal(t, []string{capabilityFinalOnly}, info.Capabilities)
}
