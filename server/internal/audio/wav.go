package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Limits on WAV input so a hostile file cannot make ReadWAV allocate or read
// without bound.
const (
	// MaxWAVDataBytes caps the sample data ReadWAV keeps (about 26 minutes
	// of 16 kHz stereo, 17 minutes of 48 kHz mono).
	MaxWAVDataBytes = 96 << 20
	// MaxWAVSampleRate is the highest sample rate ReadWAV accepts, in Hz.
	MaxWAVSampleRate = 384000
	// maxWAVChunks caps the number of RIFF chunks ReadWAV walks.
	maxWAVChunks = 1024
	// maxWAVSkipBytes caps the bytes of unknown chunks ReadWAV skips.
	maxWAVSkipBytes = 16 << 20
	// maxFmtBytes caps the size of the fmt chunk.
	maxFmtBytes = 1024
)

// RIFF/WAVE layout constants.
const (
	riffHeaderBytes      = 12
	chunkHeaderBytes     = 8
	fmtPCMBytes          = 16
	fmtExtensibleBytes   = 40
	extensibleExtraBytes = 22
	formatPCM            = 1
	formatExtensible     = 0xFFFE
	bitsPerSample16      = 16
	maxChannels          = 2
	// dataPrealloc caps what ReadWAV allocates for a data chunk before
	// its bytes arrive.
	dataPrealloc = 1 << 20
)

// pcmSubformatTail is the KSDATAFORMAT_SUBTYPE_PCM GUID after its first two
// bytes (which hold the format tag, 1 for PCM).
const pcmSubformatTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

// PCM is a buffer of mono PCM16 samples and their rate in Hz.
type PCM struct {
	// Samples holds the audio, one int16 per sample.
	Samples []int16
	// SampleRate is the rate of Samples in Hz.
	SampleRate int
}

// Duration is the length of the audio (0 if SampleRate is not positive).
func (p PCM) Duration() time.Duration {
	if p.SampleRate <= 0 {
		return 0
	}
	return time.Duration(int64(len(p.Samples)) * int64(time.Second) / int64(p.SampleRate))
}

// wavFormat is what ReadWAV keeps from the fmt chunk.
type wavFormat struct {
	channels   int
	sampleRate int
}

// ReadWAV reads a RIFF/WAVE file of 16-bit PCM (format tag 1, or
// WAVE_FORMAT_EXTENSIBLE with the PCM subformat), mono or stereo; stereo is
// mixed down to mono by averaging. Chunks may come in any order; unknown
// chunks (LIST, fact, cue …) are skipped, odd-sized chunks are padded. A
// data chunk cut short (as written by streaming encoders) keeps the whole
// sample frames present. Anything else fails with an error matching
// ErrUnsupportedWAV that says what was found.
func ReadWAV(r io.Reader) (PCM, error) {
	return readWAV(r, MaxWAVDataBytes)
}

// readWAV is ReadWAV with a data size limit (tests use small ones).
func readWAV(r io.Reader, limit int64) (PCM, error) {
	var hdr [riffHeaderBytes]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return PCM{}, malformed("reading RIFF header: %w", err)
	}
	if string(hdr[0:4]) != "RIFF" {
		return PCM{}, malformed("not a RIFF file (magic %q)", hdr[0:4])
	}
	if string(hdr[8:12]) != "WAVE" {
		return PCM{}, malformed("RIFF form %q, not WAVE", hdr[8:12])
	}
	var (
		format  *wavFormat
		data    []byte
		gotData bool
		skipped int64
	)
	for range maxWAVChunks {
		var ch [chunkHeaderBytes]byte
		n, err := io.ReadFull(r, ch[:])
		if errors.Is(err, io.EOF) && n == 0 {
			break
		}
		if err != nil {
			if gotData && format != nil {
				// Trailing garbage shorter than a chunk header after
				// the audio: tolerate it.
				break
			}
			return PCM{}, malformed("reading chunk header: %w", err)
		}
		id := string(ch[0:4])
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if format != nil {
				return PCM{}, malformed("second fmt chunk")
			}
			f, err := readFmt(r, size)
			if err != nil {
				return PCM{}, err
			}
			format = &f
		case "data":
			if gotData {
				return PCM{}, malformed("second data chunk")
			}
			d, complete, err := readData(r, size, limit)
			if err != nil {
				return PCM{}, err
			}
			data, gotData = d, true
			if !complete {
				return finish(format, data, gotData)
			}
		default:
			skipped += int64(size) + int64(size&1)
			if skipped > maxWAVSkipBytes {
				return PCM{}, malformed("more than %d bytes of unknown chunks", maxWAVSkipBytes)
			}
			if err := skip(r, int64(size)+int64(size&1), id); err != nil {
				return PCM{}, err
			}
		}
		if format != nil && gotData {
			// Everything needed has been read; later chunks (LIST after
			// data is common) do not matter.
			return finish(format, data, gotData)
		}
	}
	return finish(format, data, gotData)
}

// finish checks that both chunks were found and converts the data.
func finish(format *wavFormat, data []byte, gotData bool) (PCM, error) {
	if format == nil {
		return PCM{}, malformed("no fmt chunk")
	}
	if !gotData {
		return PCM{}, malformed("no data chunk")
	}
	block := format.channels * bytesPerSample
	frames := len(data) / block
	out := make([]int16, frames)
	for i := range out {
		off := i * block
		if format.channels == 1 {
			out[i] = int16(binary.LittleEndian.Uint16(data[off:]))
			continue
		}
		l := int32(int16(binary.LittleEndian.Uint16(data[off:])))
		rt := int32(int16(binary.LittleEndian.Uint16(data[off+bytesPerSample:])))
		out[i] = int16((l + rt) >> 1)
	}
	return PCM{Samples: out, SampleRate: format.sampleRate}, nil
}

// readFmt reads and checks a fmt chunk of the given size (plus padding).
func readFmt(r io.Reader, size uint32) (wavFormat, error) {
	if size < fmtPCMBytes || size > maxFmtBytes {
		return wavFormat{}, malformed("fmt chunk of %d bytes", size)
	}
	b := make([]byte, size+size&1)
	if _, err := io.ReadFull(r, b); err != nil {
		return wavFormat{}, malformed("reading fmt chunk: %w", err)
	}
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := binary.LittleEndian.Uint32(b[4:8])
	blockAlign := int(binary.LittleEndian.Uint16(b[12:14]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	switch tag {
	case formatPCM:
	case formatExtensible:
		if size < fmtExtensibleBytes {
			return wavFormat{}, malformed("WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes", size)
		}
		if extra := binary.LittleEndian.Uint16(b[16:18]); extra < extensibleExtraBytes {
			return wavFormat{}, malformed("WAVE_FORMAT_EXTENSIBLE extension of %d bytes", extra)
		}
		valid := int(binary.LittleEndian.Uint16(b[18:20]))
		sub := b[24:40]
		if binary.LittleEndian.Uint16(sub[0:2]) != formatPCM || string(sub[2:]) != pcmSubformatTail {
			return wavFormat{}, unsupported("WAVE_FORMAT_EXTENSIBLE subformat %x, only PCM is supported", sub)
		}
		if valid != 0 && valid != bitsPerSample16 {
			return wavFormat{}, unsupported("%d valid bits per sample, only 16 is supported", valid)
		}
	default:
		return wavFormat{}, unsupported("format tag %#x (%s), only PCM (1) is supported", tag, formatName(tag))
	}
	if bits != bitsPerSample16 {
		return wavFormat{}, unsupported("%d bits per sample, only 16 is supported", bits)
	}
	if channels < 1 || channels > maxChannels {
		return wavFormat{}, unsupported("%d channels, only mono and stereo are supported", channels)
	}
	if rate == 0 || rate > MaxWAVSampleRate {
		return wavFormat{}, unsupported("sample rate %d Hz, want 1 to %d", rate, MaxWAVSampleRate)
	}
	if blockAlign != channels*bytesPerSample {
		return wavFormat{}, malformed("block align %d for %d channels of 16 bits", blockAlign, channels)
	}
	return wavFormat{channels: channels, sampleRate: int(rate)}, nil
}

// readData reads a data chunk of at most limit bytes. complete is false
// when the stream ended before the declared size, or the size was a
// placeholder beyond the limit (streaming writers put 0xFFFFFFFF or
// similar there): the whole bytes read are returned and ReadWAV stops.
func readData(r io.Reader, size uint32, limit int64) (data []byte, complete bool, err error) {
	placeholder := int64(size) > limit
	want := int64(size)
	if placeholder {
		// Read one byte past the limit to tell "ends in time" from "too big".
		want = limit + 1
	}
	var buf bytes.Buffer
	// Grow as data arrives: a header alone must not make us allocate.
	buf.Grow(int(min(want, dataPrealloc)))
	n, err := io.CopyN(&buf, r, want)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, malformed("reading data chunk: %w", err)
	}
	if placeholder {
		if n > limit {
			return nil, false, malformed("data chunk over the limit of %d bytes", limit)
		}
		return buf.Bytes(), false, nil
	}
	if n < want {
		return buf.Bytes(), false, nil
	}
	if size&1 == 1 {
		var pad [1]byte
		// A missing pad byte at the very end is harmless.
		if _, err := io.ReadFull(r, pad[:]); err != nil && !errors.Is(err, io.EOF) {
			return nil, false, malformed("reading data padding: %w", err)
		}
	}
	return buf.Bytes(), true, nil
}

// skip discards n bytes of an unknown chunk.
func skip(r io.Reader, n int64, id string) error {
	if _, err := io.CopyN(io.Discard, r, n); err != nil {
		return malformed("skipping %q chunk: %w", id, err)
	}
	return nil
}

// Common WAV format tags other than PCM, named in error messages.
const (
	formatADPCM    = 0x0002
	formatFloat    = 0x0003
	formatALaw     = 0x0006
	formatMuLaw    = 0x0007
	formatIMAADPCM = 0x0011
	formatMP3      = 0x0055
)

// formatName names the common WAV format tags for error messages.
func formatName(tag uint16) string {
	switch tag {
	case formatADPCM:
		return "ADPCM"
	case formatFloat:
		return "IEEE float"
	case formatALaw:
		return "A-law"
	case formatMuLaw:
		return "µ-law"
	case formatIMAADPCM:
		return "IMA ADPCM"
	case formatMP3:
		return "MP3"
	default:
		return "unknown"
	}
}

// malformed builds an error matching ErrUnsupportedWAV and ErrMalformedWAV.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %w: %w", ErrUnsupportedWAV, ErrMalformedWAV, fmt.Errorf(format, args...))
}

// unsupported builds an error matching ErrUnsupportedWAV.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrUnsupportedWAV, fmt.Errorf(format, args...))
}

// WriteWAV writes p as a canonical 16-bit mono PCM WAV file.
func WriteWAV(w io.Writer, p PCM) error {
	if p.SampleRate <= 0 || p.SampleRate > MaxWAVSampleRate {
		return fmt.Errorf("write WAV at %d Hz: %w", p.SampleRate, ErrInvalidPCM)
	}
	dataBytes := uint64(len(p.Samples)) * bytesPerSample
	if dataBytes > math.MaxUint32-riffHeaderBytes-chunkHeaderBytes*2-fmtPCMBytes {
		return fmt.Errorf("write WAV of %d samples: %w", len(p.Samples), ErrInvalidPCM)
	}
	hdr := make([]byte, 0, riffHeaderBytes+2*chunkHeaderBytes+fmtPCMBytes)
	hdr = append(hdr, "RIFF"...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(4+2*chunkHeaderBytes+fmtPCMBytes+dataBytes))
	hdr = append(hdr, "WAVEfmt "...)
	hdr = binary.LittleEndian.AppendUint32(hdr, fmtPCMBytes)
	hdr = binary.LittleEndian.AppendUint16(hdr, formatPCM)
	hdr = binary.LittleEndian.AppendUint16(hdr, 1)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(p.SampleRate))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(p.SampleRate*bytesPerSample))
	hdr = binary.LittleEndian.AppendUint16(hdr, bytesPerSample)
	hdr = binary.LittleEndian.AppendUint16(hdr, bitsPerSample16)
	hdr = append(hdr, "data"...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(dataBytes))
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write WAV header: %w", err)
	}
	const chunkSamples = 4096
	buf := make([]byte, 0, chunkSamples*bytesPerSample)
	for s := p.Samples; len(s) > 0; {
		n := min(len(s), chunkSamples)
		buf = EncodePCM16LE(buf[:0], s[:n])
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write WAV data: %w", err)
		}
		s = s[n:]
	}
	return nil
}
