package audio

import (
	"fmt"

	"gopkg.in/hraban/opus.v2"
)

// Opus parameters Parley uses on the wire (RFC 7587: the RTP clock is
// always 48 kHz, whatever the codec's internal bandwidth).
const (
	// OpusSampleRate is the Opus RTP clock rate in Hz.
	OpusSampleRate = 48000
	// OpusFrameSamples is one 20 ms frame at OpusSampleRate.
	OpusFrameSamples = OpusSampleRate / 50
	// OpusMaxPacketBytes bounds one encoded Opus packet (RFC 6716 §3.4:
	// 1275 bytes per frame; 1500 leaves room for any framing).
	OpusMaxPacketBytes = 1500
	// opusMaxFrameMillis is the longest audio one Opus packet holds, in ms.
	opusMaxFrameMillis = 120
	// opusVoiceBitrate is the encoder's target bit rate in bit/s: wideband
	// speech is transparent well below it.
	opusVoiceBitrate = 32000
	// opusComplexity trades encoder CPU for quality (0..10); 5 costs about
	// half of 10 with no audible loss for speech.
	opusComplexity = 5
	// opusMonoChannels is Parley's channel count.
	opusMonoChannels = 1
)

// OpusDecoder turns Opus packets into mono PCM16 at its output rate. It
// conceals lost packets (PLC) and recovers them from in-band FEC when the
// next packet carries it. Not safe for concurrent use.
type OpusDecoder struct {
	dec  *opus.Decoder
	rate int
	buf  []int16
}

// NewOpusDecoder returns a decoder producing mono PCM16 at rate (8000,
// 12000, 16000, 24000 or 48000 Hz). Decoding straight to 16 kHz lets
// libopus do the 48 → 16 kHz conversion inside the codec.
func NewOpusDecoder(rate int) (*OpusDecoder, error) {
	dec, err := opus.NewDecoder(rate, opusMonoChannels)
	if err != nil {
		return nil, fmt.Errorf("%w: decoder at %d Hz: %w", ErrOpus, rate, err)
	}
	return &OpusDecoder{dec: dec, rate: rate, buf: make([]int16, rate*opusMaxFrameMillis/1000)}, nil
}

// Rate returns the decoder's output sample rate.
func (d *OpusDecoder) Rate() int { return d.rate }

// Decode appends the PCM of one packet to dst.
func (d *OpusDecoder) Decode(dst []int16, packet []byte) ([]int16, error) {
	n, err := d.dec.Decode(packet, d.buf)
	if err != nil {
		return dst, fmt.Errorf("%w: decode %d bytes: %w", ErrOpus, len(packet), err)
	}
	return append(dst, d.buf[:n]...), nil
}

// Conceal appends samples of concealed audio for one lost packet to dst:
// recovered from next's in-band FEC when next is not nil and carries it,
// else synthesised by packet loss concealment. samples is the lost
// packet's duration (a multiple of 2.5 ms at the output rate).
func (d *OpusDecoder) Conceal(dst []int16, next []byte, samples int) ([]int16, error) {
	if samples <= 0 || samples > len(d.buf) {
		return dst, fmt.Errorf("%w: conceal %d samples", ErrOpus, samples)
	}
	pcm := d.buf[:samples]
	if next != nil {
		if err := d.dec.DecodeFEC(next, pcm); err == nil {
			return append(dst, pcm...), nil
		}
	}
	if err := d.dec.DecodePLC(pcm); err != nil {
		return dst, fmt.Errorf("%w: conceal: %w", ErrOpus, err)
	}
	return append(dst, pcm...), nil
}

// OpusEncoder turns 20 ms frames of mono PCM16 into Opus packets (VoIP
// application, in-band FEC on, DTX off: the transport sends nothing at all
// when there is nothing to say). Not safe for concurrent use.
type OpusEncoder struct {
	enc   *opus.Encoder
	frame int
}

// NewOpusEncoder returns an encoder for mono PCM16 at rate taking 20 ms
// frames.
func NewOpusEncoder(rate int) (*OpusEncoder, error) {
	enc, err := opus.NewEncoder(rate, opusMonoChannels, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("%w: encoder at %d Hz: %w", ErrOpus, rate, err)
	}
	for _, set := range []func() error{
		func() error { return enc.SetBitrate(opusVoiceBitrate) },
		func() error { return enc.SetComplexity(opusComplexity) },
		func() error { return enc.SetInBandFEC(true) },
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("%w: encoder settings: %w", ErrOpus, err)
		}
	}
	return &OpusEncoder{enc: enc, frame: rate / 50}, nil
}

// Reset returns the encoder to its state after creation, keeping its
// settings (OPUS_RESET_STATE).
func (e *OpusEncoder) Reset() error {
	if err := e.enc.Reset(); err != nil {
		return fmt.Errorf("%w: reset: %w", ErrOpus, err)
	}
	return nil
}

// SetComplexity sets libopus's encoder complexity, 0..10 (the default is
// 5): lower costs less CPU per frame.
func (e *OpusEncoder) SetComplexity(c int) error {
	if err := e.enc.SetComplexity(c); err != nil {
		return fmt.Errorf("%w: complexity %d: %w", ErrOpus, c, err)
	}
	return nil
}

// FrameSamples returns the samples of one 20 ms frame the encoder takes.
func (e *OpusEncoder) FrameSamples() int { return e.frame }

// Encode appends the Opus packet for one 20 ms frame to dst.
func (e *OpusEncoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	if len(pcm) != e.frame {
		return dst, fmt.Errorf("%w: encode %d samples, want %d", ErrOpus, len(pcm), e.frame)
	}
	start := len(dst)
	dst = append(dst, make([]byte, OpusMaxPacketBytes)...)
	n, err := e.enc.Encode(pcm, dst[start:])
	if err != nil {
		return dst[:start], fmt.Errorf("%w: encode: %w", ErrOpus, err)
	}
	return dst[:start+n], nil
}
