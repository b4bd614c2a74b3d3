package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chunk builds a RIFF chunk with padding for odd sizes.
func chunk(id string, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// riff wraps chunks in a RIFF/WAVE header.
func riff(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// fmtBody builds a plain fmt chunk body.
func fmtBody(tag, channels uint16, rate uint32, bits uint16) []byte {
	block := channels * bits / 8
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(block))
	b = binary.LittleEndian.AppendUint16(b, block)
	return binary.LittleEndian.AppendUint16(b, bits)
}

// extensibleBody builds a WAVE_FORMAT_EXTENSIBLE fmt body with subformat
// tag sub.
func extensibleBody(channels uint16, rate uint32, sub uint16) []byte {
	b := fmtBody(formatExtensible, channels, rate, 16)
	b = binary.LittleEndian.AppendUint16(b, extensibleExtraBytes)
	b = binary.LittleEndian.AppendUint16(b, 16) // valid bits
	b = binary.LittleEndian.AppendUint32(b, 4)  // channel mask
	b = binary.LittleEndian.AppendUint16(b, sub)
	return append(b, pcmSubformatTail...)
}

func pcmBytes(s ...int16) []byte { return EncodePCM16LE(nil, s) }

func TestReadWAV(t *testing.T) {
	mono := fmtBody(formatPCM, 1, 16000, 16)
	tests := []struct {
		name string
		file []byte
		want PCM
	}{
		{name: "canonical mono", file: riff(chunk("fmt ", mono), chunk("data", pcmBytes(1, -2, 3))),
			want: PCM{Samples: []int16{1, -2, 3}, SampleRate: 16000}},
		{name: "stereo averaged", file: riff(chunk("fmt ", fmtBody(formatPCM, 2, 48000, 16)), chunk("data", pcmBytes(100, 200, -3, -4, 32767, 32767))),
			want: PCM{Samples: []int16{150, -4, 32767}, SampleRate: 48000}},
		{name: "LIST before fmt and after data", file: riff(chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00flite\x00")), chunk("fmt ", mono), chunk("data", pcmBytes(7)), chunk("LIST", []byte("xx"))),
			want: PCM{Samples: []int16{7}, SampleRate: 16000}},
		{name: "data before fmt", file: riff(chunk("data", pcmBytes(5, 6)), chunk("fact", []byte{1, 0, 0, 0}), chunk("fmt ", mono)),
			want: PCM{Samples: []int16{5, 6}, SampleRate: 16000}},
		{name: "odd-sized unknown chunk padded", file: riff(chunk("junk", []byte{1, 2, 3}), chunk("fmt ", mono), chunk("data", pcmBytes(9))),
			want: PCM{Samples: []int16{9}, SampleRate: 16000}},
		{name: "fmt with cbSize", file: riff(chunk("fmt ", append(fmtBody(formatPCM, 1, 8000, 16), 0, 0)), chunk("data", pcmBytes(1))),
			want: PCM{Samples: []int16{1}, SampleRate: 8000}},
		{name: "extensible PCM", file: riff(chunk("fmt ", extensibleBody(1, 24000, formatPCM)), chunk("data", pcmBytes(4, 5))),
			want: PCM{Samples: []int16{4, 5}, SampleRate: 24000}},
		{name: "truncated data keeps whole samples", file: riff(chunk("fmt ", mono), []byte("data\x10\x00\x00\x00\x01\x00\x02\x00\x03")),
			want: PCM{Samples: []int16{1, 2}, SampleRate: 16000}},
		{name: "streamed unknown data size", file: riff(chunk("fmt ", mono), []byte("data\xff\xff\xff\xff\x01\x00\x02\x00")),
			want: PCM{Samples: []int16{1, 2}, SampleRate: 16000}},
		{name: "empty data", file: riff(chunk("fmt ", mono), chunk("data", nil)),
			want: PCM{Samples: []int16{}, SampleRate: 16000}},
		{name: "trailing bytes after chunks", file: append(riff(chunk("fmt ", mono), chunk("data", pcmBytes(3))), 1, 2, 3),
			want: PCM{Samples: []int16{3}, SampleRate: 16000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadWAV(bytes.NewReader(tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadWAVRejects(t *testing.T) {
	mono := fmtBody(formatPCM, 1, 16000, 16)
	data := chunk("data", pcmBytes(1, 2))
	tests := []struct {
		name      string
		file      []byte
		malformed bool
		message   string
	}{
		{name: "empty", file: nil, malformed: true, message: "RIFF header"},
		{name: "not RIFF", file: append([]byte("OggS"), make([]byte, 40)...), malformed: true, message: "not a RIFF"},
		{name: "not WAVE", file: append([]byte("RIFF\x04\x00\x00\x00AVI "), data...), malformed: true, message: "not WAVE"},
		{name: "float", file: riff(chunk("fmt ", fmtBody(3, 1, 16000, 32)), data), message: "IEEE float"},
		{name: "mu-law", file: riff(chunk("fmt ", fmtBody(7, 1, 8000, 8)), data), message: "µ-law"},
		{name: "8-bit PCM", file: riff(chunk("fmt ", fmtBody(formatPCM, 1, 8000, 8)), data), message: "8 bits"},
		{name: "24-bit PCM", file: riff(chunk("fmt ", fmtBody(formatPCM, 1, 48000, 24)), data), message: "24 bits"},
		{name: "three channels", file: riff(chunk("fmt ", fmtBody(formatPCM, 3, 16000, 16)), data), message: "3 channels"},
		{name: "zero channels", file: riff(chunk("fmt ", fmtBody(formatPCM, 0, 16000, 16)), data), message: "0 channels"},
		{name: "zero rate", file: riff(chunk("fmt ", fmtBody(formatPCM, 1, 0, 16)), data), message: "sample rate 0"},
		{name: "extensible float", file: riff(chunk("fmt ", extensibleBody(1, 16000, 3)), data), message: "subformat"},
		{name: "extensible too short", file: riff(chunk("fmt ", extensibleBody(1, 16000, 1)[:30]), data), malformed: true, message: "EXTENSIBLE"},
		{name: "short fmt", file: riff(chunk("fmt ", mono[:14]), data), malformed: true, message: "fmt chunk of 14"},
		{name: "missing fmt", file: riff(data), malformed: true, message: "no fmt"},
		{name: "missing data", file: riff(chunk("fmt ", mono)), malformed: true, message: "no data"},
		{name: "two fmt", file: riff(chunk("fmt ", mono), chunk("fmt ", mono), data), malformed: true, message: "second fmt"},
		{name: "bad block align", file: riff(chunk("fmt ", append(append(append([]byte{}, mono[:12]...), 4, 0), mono[14:]...)), data), malformed: true, message: "block align"},
		{name: "truncated unknown chunk", file: riff(chunk("fmt ", mono), []byte("LIST\x00\x01\x00\x00abc")), malformed: true, message: "LIST"},
		{name: "truncated fmt", file: riff([]byte("fmt \x10\x00\x00\x00\x01\x00")), malformed: true, message: "fmt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadWAV(bytes.NewReader(tt.file))
			require.ErrorIs(t, err, ErrUnsupportedWAV)
			assert.Equal(t, tt.malformed, errors.Is(err, ErrMalformedWAV), "%v", err)
			assert.Contains(t, err.Error(), tt.message)
		})
	}
}

func TestReadWAVDataLimit(t *testing.T) {
	mono := fmtBody(formatPCM, 1, 16000, 16)
	const limit = 8
	tests := []struct {
		name    string
		file    []byte
		samples int
		err     bool
	}{
		{name: "declared over the limit", file: riff(chunk("fmt ", mono), chunk("data", make([]byte, limit+2))), err: true},
		{name: "placeholder size, data within the limit", file: riff(chunk("fmt ", mono), append([]byte("data\x00\xf0\xff\x7f"), make([]byte, limit)...)), samples: limit / 2},
		{name: "placeholder size, data over the limit", file: riff(chunk("fmt ", mono), append([]byte("data\xff\xff\xff\xff"), make([]byte, limit+1)...)), err: true},
		{name: "placeholder size, no data", file: riff(chunk("fmt ", mono), []byte("data\x00\x00\x00\x7f")), samples: 0},
		{name: "exactly the limit", file: riff(chunk("fmt ", mono), chunk("data", make([]byte, limit))), samples: limit / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := readWAV(bytes.NewReader(tt.file), limit)
			if tt.err {
				require.ErrorIs(t, err, ErrMalformedWAV)
				assert.Contains(t, err.Error(), "limit")
				return
			}
			require.NoError(t, err)
			assert.Len(t, p.Samples, tt.samples)
		})
	}
}

func TestWAVRoundTrip(t *testing.T) {
	for _, rate := range []int{8000, 16000, 44100, 48000} {
		p := PCM{Samples: tone(440, 20000, rate, rate/10), SampleRate: rate}
		var buf bytes.Buffer
		require.NoError(t, WriteWAV(&buf, p))
		assert.Equal(t, 44+2*len(p.Samples), buf.Len())
		got, err := ReadWAV(&buf)
		require.NoError(t, err)
		assert.Equal(t, p, got)
		assert.Equal(t, 100*time.Millisecond, got.Duration())
	}
}

func TestWriteWAVErrors(t *testing.T) {
	require.ErrorIs(t, WriteWAV(io.Discard, PCM{SampleRate: 0}), ErrInvalidPCM)
	require.ErrorIs(t, WriteWAV(io.Discard, PCM{SampleRate: -1}), ErrInvalidPCM)
	require.Error(t, WriteWAV(failingWriter{}, PCM{SampleRate: 16000, Samples: []int16{1}}))
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func FuzzReadWAV(f *testing.F) {
	mono := fmtBody(formatPCM, 1, 16000, 16)
	f.Add(riff(chunk("fmt ", mono), chunk("data", pcmBytes(1, 2, 3))))
	f.Add(riff(chunk("LIST", []byte("abc")), chunk("fmt ", fmtBody(formatPCM, 2, 44100, 16)), chunk("data", pcmBytes(1, 2))))
	f.Add(riff(chunk("data", pcmBytes(5)), chunk("fmt ", extensibleBody(1, 8000, 1))))
	f.Add(riff(chunk("fmt ", mono), []byte("data\xff\xff\xff\xff\x01\x00")))
	f.Add([]byte("RIFF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadWAV(bytes.NewReader(b))
		if err != nil {
			require.ErrorIs(t, err, ErrUnsupportedWAV)
			return
		}
		require.Positive(t, p.SampleRate)
		require.LessOrEqual(t, len(p.Samples), len(b)/2)
		// Whatever was read must survive a write/read round trip.
		var buf bytes.Buffer
		require.NoError(t, WriteWAV(&buf, p))
		again, err := ReadWAV(&buf)
		require.NoError(t, err)
		assert.Equal(t, p.SampleRate, again.SampleRate)
		assert.Equal(t, len(p.Samples), len(again.Samples))
		assert.Equal(t, p.Samples, again.Samples)
	})
}
