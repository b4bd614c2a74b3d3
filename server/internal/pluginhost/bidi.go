package pluginhost

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/parleyhq/parley/sdk"
)

// Replay bounds: the input of a bidirectional stream is kept until its first
// output arrives, so that a failure before any output can be replayed to a
// retry or the next plugin in the chain. Past the bound the stream stops
// keeping input and a later failure before output passes through.
const (
	// maxReplayAudioBytes is about 32 s of 16 kHz mono PCM16 — longer than
	// any utterance before its first partial.
	maxReplayAudioBytes = 1 << 20
	// maxReplayTextBytes is far more text than one reply sends before its
	// first audio.
	maxReplayTextBytes = 64 << 10
)

// inputKind says what an input of a bidirectional stream is.
type inputKind uint8

const (
	inputData inputKind = iota
	inputFlush
	inputClose
)

// input is one call on the send side of a bidirectional stream.
type input struct {
	kind inputKind
	data []byte
	text string
}

func (x input) size() int { return len(x.data) + len(x.text) }

// innerStream is one plugin's stream under a bidi.
type innerStream[O any] interface {
	send(x input) error
	Recv() (O, error)
}

// bidiOpen opens a plugin stream on a running instance.
type bidiOpen[O any] func(ctx context.Context, gen *generation) (innerStream[O], error)

// attempt is a plugin stream with its cancel func and its first-output
// watch.
type attempt[O any] struct {
	s      innerStream[O]
	cancel context.CancelFunc
	watch  *firstOutputWatch
}

// armsFn says whether an input starts the wait for the first output (STT:
// the end of the audio or a flush; TTS: text).
type armsFn func(x input) bool

// bidi is a resilient bidirectional stream over a chain. Until the first
// output arrives it keeps the input (bounded) and, when the plugin stream
// fails, reopens it per the chain's retry and fallback policy and replays
// the input. After the first output, errors pass through.
type bidi[O any] struct {
	ctx    context.Context //nolint:containedctx // the stream lives exactly as long as its call's context.
	chain  *chain
	cur    *cursor
	openFn bidiOpen[O]
	maxBuf int
	arms   armsFn

	mu       sync.Mutex
	att      attempt[O]
	in       *instance
	gen      *generation
	done     func(error)
	buf      []input
	bufBytes int
	overflow bool
	emitted  bool
	failed   error
}

func newBidi[O any](ctx context.Context, c *chain, maxBuf int, arms armsFn, openFn bidiOpen[O]) (*bidi[O], error) {
	b := &bidi[O]{ctx: ctx, chain: c, cur: c.newCursor(), openFn: openFn, maxBuf: maxBuf, arms: arms}
	o, err := open(ctx, c, b.cur, nil, b.try)
	if err != nil {
		return nil, err
	}
	b.adopt(o)
	return b, nil
}

// try opens a plugin stream and replays the kept input. Called with b.mu
// held (or before b is shared).
func (b *bidi[O]) try(ctx context.Context, _ *instance, gen *generation) (attempt[O], error) {
	sctx, cancel := context.WithCancel(ctx)
	s, err := b.openFn(sctx, gen)
	if err != nil {
		cancel()
		return attempt[O]{}, err
	}
	watch := &firstOutputWatch{}
	for _, x := range b.buf {
		if b.arms(x) {
			watch.arm(b.chain.firstOutput, cancel)
		}
		if err := s.send(x); err != nil {
			// The stream's status, if it has one, says more than the send error.
			if _, rerr := s.Recv(); rerr != nil && !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			watch.stop()
			cancel()
			return attempt[O]{}, err
		}
	}
	return attempt[O]{s: s, cancel: cancel, watch: watch}, nil
}

func (b *bidi[O]) adopt(o opened[attempt[O]]) {
	b.att, b.in, b.gen, b.done = o.v, o.in, o.gen, o.done
}

// send delivers one input. Before the first output it is kept for replay
// and a send failure is not reported: Recv sees the stream's failure and
// retries with the input replayed.
func (b *bidi[O]) send(x input) error {
	b.mu.Lock()
	if b.emitted {
		s, in, gen := b.att.s, b.in, b.gen
		b.mu.Unlock()
		return in.classify(b.ctx, gen, s.send(x))
	}
	defer b.mu.Unlock()
	if b.failed != nil {
		return b.failed
	}
	if b.arms(x) {
		b.att.watch.arm(b.chain.firstOutput, b.att.cancel)
	}
	if !b.overflow {
		if b.bufBytes+x.size() > b.maxBuf {
			b.overflow, b.buf, b.bufBytes = true, nil, 0
		} else {
			if x.data != nil {
				x.data = append([]byte(nil), x.data...)
			}
			b.buf = append(b.buf, x)
			b.bufBytes += x.size()
		}
	}
	err := b.att.s.send(x)
	if err != nil && b.overflow {
		return b.in.classify(b.ctx, b.gen, err)
	}
	return nil
}

// recv returns the next output; see bidi.
func (b *bidi[O]) recv() (O, error) {
	var zero O
	for {
		b.mu.Lock()
		if b.failed != nil {
			err := b.failed
			b.mu.Unlock()
			return zero, err
		}
		s, in, gen, watch := b.att.s, b.in, b.gen, b.att.watch
		b.mu.Unlock()

		v, err := s.Recv()
		if err == nil && !watch.timedOut.Load() {
			b.markEmitted()
			return v, nil
		}
		err = watch.check(in, b.chain.firstOutput, in.classify(b.ctx, gen, err))
		if errors.Is(err, io.EOF) {
			b.finish(nil, io.EOF)
			return zero, io.EOF
		}
		in.countError(err)

		b.mu.Lock()
		if b.emitted || b.overflow || b.ctx.Err() != nil {
			b.mu.Unlock()
			b.finish(in.outcome(b.ctx, gen, err), err)
			return zero, err
		}
		b.done(in.outcome(b.ctx, gen, err))
		b.done = nil
		b.att.watch.stop()
		b.att.cancel()
		o, oerr := open(b.ctx, b.chain, b.cur, err, b.try)
		if oerr != nil {
			b.failed = oerr
			b.mu.Unlock()
			return zero, oerr
		}
		b.adopt(o)
		b.mu.Unlock()
	}
}

// markEmitted records the first output: the input is no longer kept and the
// breaker hears that the plugin works.
func (b *bidi[O]) markEmitted() {
	b.mu.Lock()
	if b.emitted {
		b.mu.Unlock()
		return
	}
	b.emitted = true
	b.att.watch.stop()
	b.buf, b.bufBytes = nil, 0
	done := b.done
	b.done = nil
	b.mu.Unlock()
	if done != nil {
		done(nil)
	}
}

// finish ends the stream: the breaker hears outcome if it has not heard
// yet, and later calls return err.
func (b *bidi[O]) finish(outcome, err error) {
	b.mu.Lock()
	done := b.done
	b.done = nil
	b.failed = err
	b.att.watch.stop()
	b.att.cancel()
	b.mu.Unlock()
	if done != nil {
		done(outcome)
	}
}

// sttChain is the resilient sdk.STT of a pipeline.
type sttChain struct{ *chain }

var _ sdk.STT = (*sttChain)(nil)

// Transcribe implements sdk.STT; see bidi for retry and replay.
func (c *sttChain) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
	b, err := newBidi(ctx, c.chain, maxReplayAudioBytes, sttArms, func(ctx context.Context, gen *generation) (innerStream[sdk.TranscriptEvent], error) {
		s, err := gen.stt.Transcribe(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return sttInner{s}, nil
	})
	if err != nil {
		return nil, err
	}
	return &sttStream{b}, nil
}

// sttArms: a recognizer owes output once the audio ended or was flushed
// (it may hold partials back until then).
func sttArms(x input) bool { return x.kind != inputData }

// ttsArms: a synthesizer owes audio once it has text.
func ttsArms(x input) bool { return x.kind == inputData && x.text != "" }

type sttInner struct{ s sdk.STTStream }

func (x sttInner) send(in input) error {
	switch in.kind {
	case inputFlush:
		return x.s.Flush()
	case inputClose:
		return x.s.CloseSend()
	default:
		return x.s.SendAudio(in.data)
	}
}

func (x sttInner) Recv() (sdk.TranscriptEvent, error) { return x.s.Recv() }

// sttStream is a resilient sdk.STTStream.
type sttStream struct{ b *bidi[sdk.TranscriptEvent] }

var _ sdk.STTStream = (*sttStream)(nil)

// SendAudio implements sdk.STTStream.
func (s *sttStream) SendAudio(pcm []byte) error {
	return s.b.send(input{kind: inputData, data: pcm})
}

// Flush implements sdk.STTStream.
func (s *sttStream) Flush() error { return s.b.send(input{kind: inputFlush}) }

// CloseSend implements sdk.STTStream.
func (s *sttStream) CloseSend() error { return s.b.send(input{kind: inputClose}) }

// Recv implements sdk.STTStream.
func (s *sttStream) Recv() (sdk.TranscriptEvent, error) { return s.b.recv() }

// ttsChain is the resilient sdk.TTS of a pipeline.
type ttsChain struct{ *chain }

var _ sdk.TTS = (*ttsChain)(nil)

// Synthesize implements sdk.TTS; see bidi for retry and replay.
func (c *ttsChain) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	b, err := newBidi(ctx, c.chain, maxReplayTextBytes, ttsArms, func(ctx context.Context, gen *generation) (innerStream[sdk.AudioChunk], error) {
		s, err := gen.tts.Synthesize(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return ttsInner{s}, nil
	})
	if err != nil {
		return nil, err
	}
	return &ttsStream{b}, nil
}

type ttsInner struct{ s sdk.TTSStream }

func (x ttsInner) send(in input) error {
	switch in.kind {
	case inputFlush:
		return x.s.Flush()
	case inputClose:
		return x.s.CloseSend()
	default:
		return x.s.SendText(in.text)
	}
}

func (x ttsInner) Recv() (sdk.AudioChunk, error) { return x.s.Recv() }

// ttsStream is a resilient sdk.TTSStream.
type ttsStream struct{ b *bidi[sdk.AudioChunk] }

var _ sdk.TTSStream = (*ttsStream)(nil)

// SendText implements sdk.TTSStream.
func (s *ttsStream) SendText(text string) error {
	return s.b.send(input{kind: inputData, text: text})
}

// Flush implements sdk.TTSStream.
func (s *ttsStream) Flush() error { return s.b.send(input{kind: inputFlush}) }

// CloseSend implements sdk.TTSStream.
func (s *ttsStream) CloseSend() error { return s.b.send(input{kind: inputClose}) }

// Recv implements sdk.TTSStream.
func (s *ttsStream) Recv() (sdk.AudioChunk, error) { return s.b.recv() }
