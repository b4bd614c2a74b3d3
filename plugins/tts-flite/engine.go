package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pcm"
	"github.com/parleyhq/parley/sdk/sentence"
)

// Plugin identity.
const (
	pluginName    = "tts-flite"
	pluginVersion = "0.1.0"
)

// Stream plumbing sizes.
const (
	// outQueue is how many audio chunks may wait for Recv before flite's
	// callback blocks.
	outQueue = 8
)

// advertisedRates are the output rates listed in Info. Any rate in
// [minSampleRate, maxSampleRate] is accepted; these are the common ones.
func advertisedRates() []int { return []int{8000, 16000, 22050, 24000, 32000, 44100, 48000} }

// Engine is the flite text-to-speech plugin. It is safe for concurrent use:
// voices are registered once per process and shared by all streams, and so
// are resampling filters.
type Engine struct {
	logger  *slog.Logger
	filters pcm.FilterCache

	mu  sync.RWMutex
	cfg settings
}

var _ sdk.TTS = (*Engine)(nil)

// NewEngine returns an Engine with default settings.
func NewEngine(logger *slog.Logger) *Engine {
	return &Engine{logger: logger, cfg: defaultSettings()}
}

// Info implements sdk.Plugin.
func (e *Engine) Info(context.Context) (sdk.Info, error) {
	formats := make([]sdk.AudioFormat, 0, len(advertisedRates()))
	for _, r := range advertisedRates() {
		formats = append(formats, sdk.AudioFormat{Encoding: sdk.EncodingPCM16LE, SampleRate: r, Channels: 1})
	}
	return sdk.Info{
		Name:    pluginName,
		Version: pluginVersion,
		Kind:    sdk.KindTTS,
		Capabilities: []string{
			"streaming", "sentence_streaming", "speed", "offline",
			"voices:" + strings.Join(voiceNames(), ","),
		},
		AudioFormats: formats,
	}, nil
}

// Configure implements sdk.Plugin. Settings: voice, speed, chunk_ms,
// max_sentence_chars (see README). Streams already open keep their settings.
func (e *Engine) Configure(_ context.Context, raw json.RawMessage) error {
	s, err := parseSettings(raw)
	if err != nil {
		return err
	}
	// Register the voice now so the first stream does not pay for it.
	vd, _ := lookupVoice(s.Voice)
	if _, err := loadVoice(vd.id); err != nil {
		return &sdk.Error{Code: sdk.CodeInternal, Message: "cannot load voice " + s.Voice, Err: err}
	}
	e.mu.Lock()
	e.cfg = s
	e.mu.Unlock()
	return nil
}

// Synthesize implements sdk.TTS. The stream ends when ctx is cancelled or
// after CloseSend once all audio was received.
func (e *Engine) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	e.mu.RLock()
	s := e.cfg
	e.mu.RUnlock()

	if cfg.Encoding != "" && cfg.Encoding != sdk.EncodingPCM16LE {
		return nil, sdk.InvalidField("encoding", "%q is not supported (only %s)", cfg.Encoding, sdk.EncodingPCM16LE)
	}
	voiceName := s.Voice
	if cfg.Voice != "" {
		voiceName = cfg.Voice
	}
	vd, ok := lookupVoice(voiceName)
	if !ok {
		return nil, sdk.InvalidField("voice", "unknown voice %q (have %s)", voiceName, strings.Join(voiceNames(), ", "))
	}
	speed := s.Speed
	if cfg.Speed != 0 {
		speed = cfg.Speed
	}
	if speed < minSpeed || speed > maxSpeed {
		return nil, sdk.InvalidField("speed", "%g is outside [%g, %g]", speed, minSpeed, maxSpeed)
	}
	rate := cfg.SampleRate
	if rate == 0 {
		rate = defaultSampleRate
	}
	if rate < minSampleRate || rate > maxSampleRate {
		return nil, sdk.InvalidField("sample_rate", "%d Hz is outside [%d, %d]", rate, minSampleRate, maxSampleRate)
	}
	if vd.rate != rate {
		if _, err := e.filters.Get(vd.rate, rate); err != nil {
			return nil, sdk.InvalidField("sample_rate", "%d Hz cannot be made from the voice's %d Hz: %s", rate, vd.rate, err.Error())
		}
	}
	voice, err := loadVoice(vd.id)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Message: "cannot load voice " + voiceName, Err: err}
	}
	st := &stream{
		split:      sentence.NewSplitter(s.MaxSentenceChars),
		jobs:       newJobQueue(),
		out:        make(chan sdk.AudioChunk, outQueue),
		done:       make(chan struct{}),
		ctxDone:    ctx.Done(),
		ctxErr:     ctx.Err,
		voice:      voice,
		stretch:    1 / speed,
		minSamples: s.ChunkMS * vd.rate / msPerSecond,
		outRate:    rate,
		filters:    &e.filters,
		logger:     e.logger.With("voice", voiceName, "sample_rate", rate),
	}
	go st.run(ctx)
	return st, nil
}

// job is one sentence to speak.
type job struct {
	span sentence.Span
}

// stream is one synthesis stream. SendText, Flush and CloseSend run on the
// caller's sending goroutine (they own split and closed); the worker
// goroutine (run) owns flite; Recv reads what the worker produced.
type stream struct {
	split  *sentence.Splitter
	closed bool

	jobs *jobQueue
	out  chan sdk.AudioChunk
	done chan struct{} // closed when run returns; err is set before
	err  error

	ctxDone <-chan struct{}
	ctxErr  func() error

	voice      fliteVoice
	stretch    float32
	minSamples int
	outRate    int
	filters    *pcm.FilterCache
	logger     *slog.Logger
}

var _ sdk.TTSStream = (*stream)(nil)

// SendText implements sdk.TTSStream: complete sentences are queued for
// synthesis at once; the rest waits for more text, Flush or CloseSend.
func (s *stream) SendText(text string) error {
	if s.closed {
		return sdk.Errorf(sdk.CodeFailedPrecondition, "SendText after CloseSend")
	}
	return s.enqueue(s.split.Add(text))
}

// Flush implements sdk.TTSStream: the text received so far is spoken even
// without a sentence end.
func (s *stream) Flush() error {
	if s.closed {
		return sdk.Errorf(sdk.CodeFailedPrecondition, "Flush after CloseSend")
	}
	return s.enqueue(s.split.Flush())
}

// CloseSend implements sdk.TTSStream: the remaining text is spoken, then
// Recv returns io.EOF.
func (s *stream) CloseSend() error {
	if s.closed {
		return nil
	}
	err := s.enqueue(s.split.Flush())
	s.closed = true
	s.jobs.close()
	return err
}

// enqueue queues sentences for the worker. It never blocks: text is small
// and the worker may be blocked on Recv, which the caller may not be
// calling yet.
func (s *stream) enqueue(spans []sentence.Span) error {
	select {
	case <-s.done:
		if errors.Is(s.err, io.EOF) {
			return nil
		}
		return s.err
	case <-s.ctxDone:
		return s.ctxErr()
	default:
	}
	for _, sp := range spans {
		s.jobs.push(job{span: sp})
	}
	return nil
}

// Recv implements sdk.TTSStream.
func (s *stream) Recv() (sdk.AudioChunk, error) {
	select {
	case c := <-s.out:
		return c, nil
	case <-s.done:
		select {
		case c := <-s.out:
			return c, nil
		default:
		}
		return sdk.AudioChunk{}, s.err
	case <-s.ctxDone:
		return sdk.AudioChunk{}, s.ctxErr()
	}
}

// run is the worker: it speaks queued sentences one after another until the
// queue is closed (then Recv sees io.EOF) or ctx ends.
func (s *stream) run(ctx context.Context) {
	defer close(s.done)
	var sentences int
	for {
		j, ok, err := s.jobs.pop(ctx)
		switch {
		case err != nil:
			s.err = err
			return
		case !ok:
			s.logger.DebugContext(ctx, "tts stream finished", "sentences", sentences)
			s.err = io.EOF
			return
		}
		if err := s.speak(ctx, j); err != nil {
			s.err = err
			return
		}
		sentences++
	}
}

// speak synthesizes one sentence, sending audio chunks as flite produces
// them. Cancelling ctx makes the flite callback return STOP.
func (s *stream) speak(ctx context.Context, j job) error {
	var rs *pcm.Resampler
	var rsRate int
	var rateErr error
	sink := func(samples []int16, rate int, last bool) bool {
		out := samples
		if rate != s.outRate {
			if rs == nil || rsRate != rate {
				f, err := s.filters.Get(rate, s.outRate)
				if err != nil {
					rateErr = err
					return false
				}
				rs, rsRate = pcm.NewResamplerFilter(f), rate
			}
			out = rs.Process(nil, samples)
			if last {
				out = rs.Flush(out)
			}
		}
		if len(out) == 0 {
			return ctx.Err() == nil
		}
		chunk := sdk.AudioChunk{PCM: pcm.EncodeLE(nil, out), SampleRate: s.outRate, TextStart: j.span.Start, TextEnd: j.span.End}
		select {
		case s.out <- chunk:
			return true
		case <-ctx.Done():
			return false
		}
	}
	err := synthesize(s.voice, speakableText(j.span.Text), s.stretch, s.minSamples, sink)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errSynthStopped) && rateErr != nil:
		return &sdk.Error{Code: sdk.CodeInternal, Message: "flite spoke at an unexpected rate", Err: rateErr}
	case errors.Is(err, errSynthStopped):
		return ctx.Err()
	default:
		return &sdk.Error{
			Code:    sdk.CodeInternal,
			Message: "flite could not speak the sentence at bytes " + strconv.Itoa(j.span.Start) + "-" + strconv.Itoa(j.span.End),
			Err:     err,
		}
	}
}

// speakableText maps typographic punctuation flite does not know to ASCII.
func speakableText(text string) string {
	return strings.NewReplacer("’", "'", "‘", "'", "“", `"`, "”", `"`, "…", "...", "—", ", ", "–", ", ").Replace(text)
}

// jobQueue is an unbounded FIFO of sentences between the sending goroutine
// and the worker.
type jobQueue struct {
	mu     sync.Mutex
	items  []job
	closed bool
	signal chan struct{} // capacity 1: "something changed"
}

func newJobQueue() *jobQueue {
	return &jobQueue{signal: make(chan struct{}, 1)}
}

func (q *jobQueue) push(j job) {
	q.mu.Lock()
	q.items = append(q.items, j)
	q.mu.Unlock()
	q.wake()
}

func (q *jobQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

func (q *jobQueue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop returns the next job; ok is false once the queue is closed and
// empty; err is ctx's error if ctx ends first.
func (q *jobQueue) pop(ctx context.Context) (job, bool, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			j := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return j, true, nil
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return job{}, false, nil
		}
		select {
		case <-q.signal:
		case <-ctx.Done():
			return job{}, false, ctx.Err()
		}
	}
}
