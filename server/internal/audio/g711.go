package audio

import "math/bits"

// G.711 (ITU-T Rec. G.711, 1988): 8-bit logarithmic telephone audio at
// 8 kHz. μ-law is the North American and Japanese variant (Twilio's
// audio/x-mulaw), A-law the European one. A code is a sign bit, a 3-bit
// segment (exponent) and a 4-bit step (mantissa). Encoding takes 16-bit
// linear PCM (the codecs' 14- and 13-bit inputs are its top bits);
// decoding gives the standard reconstruction levels scaled to 16 bits.

// G711Rate is the sample rate of G.711 audio.
const G711Rate = 8000

// Code layout.
const (
	g711Sign     = 0x80
	g711StepMask = 0x0F
	g711SegMask  = 0x07
	g711SegShift = 4
)

// μ-law: the bias added before finding the segment (which makes the
// segment boundaries powers of two), the largest magnitude that still
// fits (32767 − bias), and the shift from the biased magnitude to its
// segment number.
const (
	ulawBias     = 0x84
	ulawClip     = 32635
	ulawSegShift = 7
	ulawStepBits = 3
)

// A-law: the even-bit inversion mask, the 13-bit input shift, the first
// segment's width in bits, its reconstruction base, and the level added
// for segment 0.
const (
	alawMask     = 0x55
	alawShift    = 3
	alawSegBits  = 5
	alawSegments = 8
	alawSegBase  = 0x108
	alawHalfStep = 8
	alawMax      = 0x7F
)

// MulawEncode returns the μ-law code of one linear sample.
func MulawEncode(s int16) byte {
	v := int(s)
	sign := 0
	if v < 0 {
		v, sign = -v, g711Sign
	}
	v = min(v, ulawClip) + ulawBias
	seg := bits.Len(uint(v>>ulawSegShift)) - 1 // 0..7; v>>7 >= 1 thanks to the bias
	step := (v >> (seg + ulawStepBits)) & g711StepMask
	return ^byte(sign | seg<<g711SegShift | step)
}

// MulawDecode returns the linear sample of one μ-law code.
func MulawDecode(u byte) int16 {
	u = ^u
	seg := int(u>>g711SegShift) & g711SegMask
	v := ((int(u&g711StepMask) << ulawStepBits) + ulawBias) << seg
	v -= ulawBias
	if u&g711Sign != 0 {
		return int16(-v)
	}
	return int16(v)
}

// AlawEncode returns the A-law code of one linear sample.
func AlawEncode(s int16) byte {
	v := int(s) >> alawShift // 13-bit
	mask := byte(alawMask | g711Sign)
	if v < 0 {
		mask = alawMask
		v = -v - 1
	}
	seg := max(0, bits.Len(uint(v))-alawSegBits)
	if seg >= alawSegments {
		return alawMax ^ mask
	}
	code := seg << g711SegShift
	if seg < 2 {
		code |= (v >> 1) & g711StepMask
	} else {
		code |= (v >> seg) & g711StepMask
	}
	return byte(code) ^ mask
}

// AlawDecode returns the linear sample of one A-law code.
func AlawDecode(a byte) int16 {
	a ^= alawMask
	t := int(a&g711StepMask) << g711SegShift
	switch seg := int(a>>g711SegShift) & g711SegMask; seg {
	case 0:
		t += alawHalfStep
	case 1:
		t += alawSegBase
	default:
		t = (t + alawSegBase) << (seg - 1)
	}
	if a&g711Sign != 0 {
		return int16(t)
	}
	return int16(-t)
}

// G711 is one of the two companding laws.
type G711 int

// The laws.
const (
	Mulaw G711 = iota
	Alaw
)

// Decode appends the linear samples of codes to dst as PCM16LE bytes.
func (g G711) Decode(dst, codes []byte) []byte {
	dec := MulawDecode
	if g == Alaw {
		dec = AlawDecode
	}
	for _, c := range codes {
		s := uint16(dec(c))
		dst = append(dst, byte(s), byte(s>>8))
	}
	return dst
}

// Encode appends the codes of PCM16LE samples to dst; a trailing odd byte
// is ignored.
func (g G711) Encode(dst, pcm []byte) []byte {
	enc := MulawEncode
	if g == Alaw {
		enc = AlawEncode
	}
	for i := 0; i+1 < len(pcm); i += 2 {
		dst = append(dst, enc(int16(uint16(pcm[i])|uint16(pcm[i+1])<<8)))
	}
	return dst
}
