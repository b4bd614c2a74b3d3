package sessiontest

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// pcmBytesPerSecond16k is PCM16 mono at 16 kHz.
const pcmBytesPerSecond16k = 32000

// STT is a fake recognizer: each stream "recognizes" the next of
// Transcripts, but only if it received at least MinAudio of audio (silence
// or nothing gives an empty final). A partial with the first word is sent
// once PartialAfter of audio arrived.
type STT struct {
	// Transcripts are consumed one per stream.
	Transcripts []string
	// MinAudio is the audio needed to recognize anything (default 100 ms).
	MinAudio time.Duration
	// PartialAfter is when the partial is sent (default 100 ms).
	PartialAfter time.Duration
	// Fail, if set, is asked for each stream (1-based); a non-nil error is
	// returned by that stream's Recv once audio arrived (a crash mid-stream).
	Fail func(stream int) error
	// FailAfter is how much audio a failing stream takes (after its
	// partial, if that comes first) before it fails; default: at once.
	FailAfter time.Duration
	// Refuse, if set, is asked for each Transcribe call (1-based, refused
	// calls included); a non-nil error is returned at once, as by a plugin
	// that is down. Refused calls open no stream.
	Refuse func(call int) error
	// FinalGate, if set, holds back every final transcript after
	// CloseSend until it is closed (a slow recognizer).
	FinalGate <-chan struct{}

	mu      sync.Mutex
	calls   int
	streams int
	audio   []int
	configs []sdk.STTConfig
}

// Configs returns the config of each stream opened.
func (s *STT) Configs() []sdk.STTConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sdk.STTConfig(nil), s.configs...)
}

var _ sdk.STT = (*STT)(nil)

// Info implements sdk.Plugin.
func (*STT) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fake-stt", Version: "test", Kind: sdk.KindSTT}, nil
}

// Configure implements sdk.Plugin.
func (*STT) Configure(context.Context, json.RawMessage) error { return nil }

// Streams returns how many streams were opened.
func (s *STT) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams
}

// AudioBytes returns the bytes of audio each stream received.
func (s *STT) AudioBytes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.audio...)
}

// Transcribe implements sdk.STT.
func (s *STT) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
	if cfg.SampleRate != 16000 || cfg.Encoding != sdk.EncodingPCM16LE {
		return nil, sdk.Errorf(sdk.CodeInvalidArgument, "fake stt wants 16 kHz pcm16le")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.Refuse != nil {
		if err := s.Refuse(s.calls); err != nil {
			return nil, err
		}
	}
	s.streams++
	s.configs = append(s.configs, cfg)
	text := ""
	if len(s.Transcripts) > 0 {
		text, s.Transcripts = s.Transcripts[0], s.Transcripts[1:]
	}
	var fail error
	if s.Fail != nil {
		fail = s.Fail(s.streams)
	}
	s.audio = append(s.audio, 0)
	return &sttStream{owner: s, idx: len(s.audio) - 1, text: text, fail: fail, q: newQueue[sdk.TranscriptEvent](ctx)}, nil
}

type sttStream struct {
	owner   *STT
	idx     int
	text    string
	fail    error
	q       *queue[sdk.TranscriptEvent]
	bytes   int
	partial bool
}

func (st *sttStream) dur() time.Duration {
	return time.Duration(st.bytes) * time.Second / pcmBytesPerSecond16k
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

const defaultFakeAudio = 100 * time.Millisecond

func (st *sttStream) SendAudio(pcm []byte) error {
	if len(pcm)%2 != 0 {
		return sdk.Errorf(sdk.CodeInvalidArgument, "odd audio length")
	}
	st.bytes += len(pcm)
	st.owner.mu.Lock()
	st.owner.audio[st.idx] = st.bytes
	st.owner.mu.Unlock()
	if !st.partial && st.text != "" && st.dur() >= orDefault(st.owner.PartialAfter, defaultFakeAudio) &&
		(st.fail == nil || st.owner.FailAfter > 0) {
		st.partial = true
		st.q.push(sdk.TranscriptEvent{Text: strings.Fields(st.text)[0], End: st.dur()})
	}
	if st.fail != nil && st.dur() >= st.owner.FailAfter {
		st.q.end(st.fail)
	}
	return nil
}

func (st *sttStream) final() {
	text := ""
	if st.dur() >= orDefault(st.owner.MinAudio, defaultFakeAudio) {
		text = st.text
	}
	st.q.push(sdk.TranscriptEvent{Text: text, Final: true, Confidence: 1, End: st.dur()})
}

func (st *sttStream) Flush() error { st.final(); return nil }

func (st *sttStream) CloseSend() error {
	if gate := st.owner.FinalGate; gate != nil {
		go func() {
			select {
			case <-gate:
				st.final()
				st.q.end(nil)
			case <-st.q.ctx.Done():
			}
		}()
		return nil
	}
	st.final()
	st.q.end(nil)
	return nil
}

func (st *sttStream) Recv() (sdk.TranscriptEvent, error) { return st.q.recv() }

// LLM is a fake model answering with Reply. Requests records every request.
type LLM struct {
	// Reply returns the events of one generation. If err is non-nil and
	// events is empty, Generate fails; otherwise err (if any) ends the
	// stream after the events, as a crash mid-stream would.
	Reply func(req sdk.GenerateRequest) (events []sdk.GenerateEvent, err error)

	mu       sync.Mutex
	requests []sdk.GenerateRequest
}

var _ sdk.LLM = (*LLM)(nil)

// Info implements sdk.Plugin.
func (*LLM) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fake-llm", Version: "test", Kind: sdk.KindLLM}, nil
}

// Configure implements sdk.Plugin.
func (*LLM) Configure(context.Context, json.RawMessage) error { return nil }

// Requests returns copies of the requests received.
func (l *LLM) Requests() []sdk.GenerateRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sdk.GenerateRequest(nil), l.requests...)
}

// Generate implements sdk.LLM.
func (l *LLM) Generate(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	req.Messages = append([]sdk.Message(nil), req.Messages...)
	l.mu.Lock()
	l.requests = append(l.requests, req)
	l.mu.Unlock()
	events, err := l.Reply(req)
	if err != nil && len(events) == 0 {
		return nil, err
	}
	q := newQueue[sdk.GenerateEvent](ctx)
	for _, ev := range events {
		q.push(ev)
	}
	q.end(err)
	return q, nil
}

func (q *queue[T]) Recv() (T, error) { return q.recv() }

// Text returns the events of a plain text answer made of deltas.
func Text(deltas ...string) []sdk.GenerateEvent {
	out := make([]sdk.GenerateEvent, 0, len(deltas)+1)
	for _, d := range deltas {
		out = append(out, sdk.GenerateEvent{TextDelta: d})
	}
	return append(out, sdk.GenerateEvent{Done: &sdk.Done{StopReason: sdk.StopEndTurn}})
}

// Call returns the events of a tool call.
func Call(id, name, args string) []sdk.GenerateEvent {
	return []sdk.GenerateEvent{
		{ToolCall: &sdk.ToolCall{ID: id, Name: name, Arguments: json.RawMessage(args)}},
		{Done: &sdk.Done{StopReason: sdk.StopToolUse}},
	}
}

// TTS is a fake synthesizer: every word of text sent (a run of non-space
// bytes with its trailing spaces) becomes WordDuration of a tone at
// SampleRate, in one chunk whose text span is that word.
type TTS struct {
	// SampleRate of the produced audio (default 16000).
	SampleRate int
	// WordDuration per word (default 100 ms).
	WordDuration time.Duration
	// Fail, if set, is asked for each stream (1-based); a non-nil error is
	// returned by Recv after the first chunk (a crash mid-stream).
	Fail func(stream int) error
	// Refuse, if set, is asked for each Synthesize call (1-based, refused
	// ones included); a non-nil error is returned by Synthesize, as by a
	// plugin that is down. Refused calls open no stream.
	Refuse func(call int) error

	mu      sync.Mutex
	calls   int
	streams int
	texts   []string
	configs []sdk.TTSConfig
}

// Configs returns the config of each stream opened.
func (t *TTS) Configs() []sdk.TTSConfig {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]sdk.TTSConfig(nil), t.configs...)
}

var _ sdk.TTS = (*TTS)(nil)

// Info implements sdk.Plugin.
func (*TTS) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fake-tts", Version: "test", Kind: sdk.KindTTS}, nil
}

// Configure implements sdk.Plugin.
func (*TTS) Configure(context.Context, json.RawMessage) error { return nil }

// Texts returns all text each stream received.
func (t *TTS) Texts() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.texts...)
}

// Synthesize implements sdk.TTS.
func (t *TTS) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	if t.Refuse != nil {
		if err := t.Refuse(t.calls); err != nil {
			return nil, err
		}
	}
	t.streams++
	t.configs = append(t.configs, cfg)
	var fail error
	if t.Fail != nil {
		fail = t.Fail(t.streams)
	}
	t.texts = append(t.texts, "")
	rate := t.SampleRate
	if rate == 0 {
		rate = 16000
	}
	return &ttsStream{owner: t, idx: len(t.texts) - 1, rate: rate, word: orDefault(t.WordDuration, defaultFakeAudio),
		fail: fail, q: newQueue[sdk.AudioChunk](ctx)}, nil
}

type ttsStream struct {
	owner  *TTS
	idx    int
	rate   int
	word   time.Duration
	fail   error
	q      *queue[sdk.AudioChunk]
	offset int
	phase  float64
	chunks int
}

// toneHz and toneAmplitude shape the fake voice.
const (
	toneHz        = 220.0
	toneAmplitude = 6000.0
)

func (st *ttsStream) SendText(text string) error {
	st.owner.mu.Lock()
	st.owner.texts[st.idx] += text
	st.owner.mu.Unlock()
	i := 0
	for i < len(text) {
		start := i
		for i < len(text) && text[i] == ' ' {
			i++
		}
		for i < len(text) && text[i] != ' ' {
			i++
		}
		for i < len(text) && text[i] == ' ' {
			i++
		}
		if strings.TrimSpace(text[start:i]) == "" {
			continue
		}
		n := int(st.word * time.Duration(st.rate) / time.Second)
		pcm := make([]byte, 0, 2*n)
		for k := 0; k < n; k++ {
			v := int16(toneAmplitude * math.Sin(st.phase))
			st.phase += 2 * math.Pi * toneHz / float64(st.rate)
			pcm = append(pcm, byte(v), byte(uint16(v)>>8))
		}
		st.q.push(sdk.AudioChunk{PCM: pcm, SampleRate: st.rate, TextStart: st.offset + start, TextEnd: st.offset + i})
		st.chunks++
		if st.fail != nil && st.chunks == 1 {
			// Crashed: nothing more comes from this stream.
			st.q.end(st.fail)
			break
		}
	}
	st.offset += len(text)
	return nil
}

func (st *ttsStream) Flush() error     { return nil }
func (st *ttsStream) CloseSend() error { st.q.end(nil); return nil }

func (st *ttsStream) Recv() (sdk.AudioChunk, error) { return st.q.recv() }
