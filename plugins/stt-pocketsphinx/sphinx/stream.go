package sphinx

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// Stream tuning.
const (
	// blockDuration is how much audio the decoder takes per call; between
	// two calls the worker looks at cancellation, so it also bounds how long
	// a cancelled stream keeps decoding.
	blockDuration = 20 * time.Millisecond
	// inputQueue is how many SendAudio/Flush/CloseSend calls may wait for
	// the decoder before SendAudio blocks (about 1 s of 20 ms chunks).
	inputQueue = 50
	// eventQueue is how many events may wait for Recv before decoding stops.
	eventQueue = 16
)

// blockBytes is blockDuration of PCM16 at SampleRate.
const blockBytes = int(SampleRate*blockDuration/time.Second) * bytesPerSample

type commandKind int

const (
	cmdAudio commandKind = iota
	cmdFlush
	cmdClose
)

type command struct {
	kind commandKind
	pcm  []byte
}

// stream is one recognition stream. SendAudio, Flush and CloseSend run on
// the caller's sending goroutine, Recv on its receiving goroutine, and the
// decoder on the stream's own worker goroutine, which owns the decoder.
type stream struct {
	ctx             context.Context //nolint:containedctx // the stream lives exactly as long as this context.
	interim         bool
	partialInterval time.Duration

	in  chan command
	out chan sdk.TranscriptEvent
	// done is closed when the worker has returned its decoder; err (set
	// before) is why it stopped, nil after CloseSend.
	done chan struct{}
	err  error

	// sendClosed is touched only by the sending goroutine.
	sendClosed bool
}

var _ sdk.STTStream = (*stream)(nil)

func newStream(ctx context.Context, interim bool, partialInterval time.Duration) *stream {
	return &stream{
		ctx:             ctx,
		interim:         interim,
		partialInterval: partialInterval,
		in:              make(chan command, inputQueue),
		out:             make(chan sdk.TranscriptEvent, eventQueue),
		done:            make(chan struct{}),
	}
}

// SendAudio queues PCM16LE audio for the decoder. It copies pcm.
func (s *stream) SendAudio(pcm []byte) error {
	if len(pcm)%bytesPerSample != 0 {
		return &sdk.Error{
			Code:    sdk.CodeInvalidArgument,
			Message: fmt.Sprintf("audio must hold whole 16-bit samples, got %d bytes", len(pcm)),
			Details: map[string]string{"field": "audio"},
		}
	}
	if s.sendClosed {
		return sdk.Errorf(sdk.CodeFailedPrecondition, "SendAudio after CloseSend")
	}
	if len(pcm) == 0 {
		return nil
	}
	return s.send(command{kind: cmdAudio, pcm: bytes.Clone(pcm)})
}

// Flush ends the current utterance: its final transcript follows.
func (s *stream) Flush() error {
	if s.sendClosed {
		return sdk.Errorf(sdk.CodeFailedPrecondition, "Flush after CloseSend")
	}
	return s.send(command{kind: cmdFlush})
}

// CloseSend ends the input; the pending utterance's final transcript
// follows, then io.EOF. Calling it again does nothing.
func (s *stream) CloseSend() error {
	if s.sendClosed {
		return nil
	}
	s.sendClosed = true
	return s.send(command{kind: cmdClose})
}

func (s *stream) send(c command) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	select {
	case s.in <- c:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	case <-s.done:
		if s.err != nil {
			return s.err
		}
		return sdk.Errorf(sdk.CodeFailedPrecondition, "stream has ended")
	}
}

// Recv returns the next transcript event, io.EOF after the last one, or the
// context's error as soon as it is cancelled.
func (s *stream) Recv() (sdk.TranscriptEvent, error) {
	select {
	case ev, ok := <-s.out:
		if ok {
			return ev, nil
		}
		if s.err != nil {
			return sdk.TranscriptEvent{}, s.err
		}
		return sdk.TranscriptEvent{}, io.EOF
	case <-s.ctx.Done():
		return sdk.TranscriptEvent{}, s.ctx.Err()
	}
}

// utterance is the worker's view of the audio since the last final.
type utterance struct {
	// start is the stream position of the utterance's first sample.
	start int64
	// sinceHyp counts samples decoded since the last partial check.
	sinceHyp int64
	lastHyp  string
}

// run decodes until CloseSend, cancellation or a decoder error, then ends
// any open utterance and gives the decoder back through release.
func (s *stream) run(d *decoder, release func(*decoder)) {
	err := s.decode(d)
	if aerr := d.abandon(); aerr != nil && err == nil {
		err = aerr
	}
	release(d)
	if err != nil && s.ctx.Err() == nil {
		err = &sdk.Error{Code: sdk.CodeInternal, Message: "pocketsphinx decoding failed", Err: err}
	}
	s.err = err
	close(s.done)
	close(s.out)
}

func (s *stream) decode(d *decoder) error {
	var (
		pos int64 // samples received on the stream so far
		utt utterance
	)
	partialSamples := int64(s.partialInterval) * SampleRate / int64(time.Second)
	for {
		var c command
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case c = <-s.in:
		}
		switch c.kind {
		case cmdAudio:
			for off := 0; off < len(c.pcm); off += blockBytes {
				if err := s.ctx.Err(); err != nil {
					return err
				}
				if !d.inUtt {
					utt = utterance{start: pos}
				}
				block := c.pcm[off:min(off+blockBytes, len(c.pcm))]
				if err := d.process(block); err != nil {
					return err
				}
				n := int64(len(block) / bytesPerSample)
				pos += n
				utt.sinceHyp += n
				if s.interim && utt.sinceHyp >= partialSamples {
					utt.sinceHyp = 0
					if err := s.partial(d, &utt, pos); err != nil {
						return err
					}
				}
			}
		case cmdFlush, cmdClose:
			if d.inUtt {
				if err := s.final(d, utt, pos); err != nil {
					return err
				}
			}
			if c.kind == cmdClose {
				return nil
			}
		}
	}
}

// partial emits the current hypothesis if it changed.
func (s *stream) partial(d *decoder, utt *utterance, pos int64) error {
	h := d.hypothesis()
	if h == "" || h == utt.lastHyp {
		return nil
	}
	utt.lastHyp = h
	return s.emit(sdk.TranscriptEvent{
		Text:  h,
		Start: samplesToDuration(utt.start),
		End:   samplesToDuration(pos),
	})
}

// final ends the utterance and emits its transcript. An utterance with no
// recognised words still gets a final event with empty text, so the host
// knows the utterance is over.
func (s *stream) final(d *decoder, utt utterance, pos int64) error {
	r, err := d.endUtterance()
	if err != nil {
		return err
	}
	start, end := samplesToDuration(utt.start), samplesToDuration(pos)
	ev := sdk.TranscriptEvent{Text: r.text, Final: true, Start: start, End: end}
	if r.text != "" {
		ev.Confidence = confidence(r.lnProb, len(strings.Fields(r.text)))
	}
	if len(r.words) > 0 {
		ev.Start = min(start+r.words[0].start, end)
		ev.End = min(start+r.words[len(r.words)-1].end, end)
	}
	return s.emit(ev)
}

func (s *stream) emit(ev sdk.TranscriptEvent) error {
	select {
	case s.out <- ev:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func samplesToDuration(n int64) time.Duration {
	return time.Duration(n) * time.Second / SampleRate
}
