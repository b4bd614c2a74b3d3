package webrtc

import (
	"fmt"
	"sync"

	"github.com/parleyhq/parley/server/internal/audio"
)

// maxSpareEncoders bounds the encoders a pool keeps between uses.
const maxSpareEncoders = 256

// encoderPool lends Opus encoders to pacers for the length of a talk
// spurt: only the sessions speaking at a moment hold one (libopus's state
// is ≈ 43 KB), instead of every session for its whole life. An encoder is
// reset (OPUS_RESET_STATE: its settings stay) when it comes back, so a
// spurt always starts from a fresh state, as a new talk spurt may.
type encoderPool struct {
	complexity int

	mu    sync.Mutex
	spare []*audio.OpusEncoder
}

// newEncoderPool checks that an encoder with these settings can be made
// and keeps it as the first spare.
func newEncoderPool(complexity int) (*encoderPool, error) {
	p := &encoderPool{complexity: complexity}
	enc, err := p.make()
	if err != nil {
		return nil, err
	}
	p.spare = append(p.spare, enc)
	return p, nil
}

func (p *encoderPool) make() (*audio.OpusEncoder, error) {
	enc, err := audio.NewOpusEncoder(outputRate)
	if err == nil {
		err = enc.SetComplexity(p.complexity)
	}
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	return enc, nil
}

// take returns a spare encoder, or a new one.
func (p *encoderPool) take() (*audio.OpusEncoder, error) {
	p.mu.Lock()
	if n := len(p.spare); n > 0 {
		enc := p.spare[n-1]
		p.spare = p.spare[:n-1]
		p.mu.Unlock()
		return enc, nil
	}
	p.mu.Unlock()
	return p.make()
}

// put resets enc and keeps it for the next take (or drops it beyond
// maxSpareEncoders, or if it does not reset).
func (p *encoderPool) put(enc *audio.OpusEncoder) {
	if enc.Reset() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.spare) < maxSpareEncoders {
		p.spare = append(p.spare, enc)
	}
}
