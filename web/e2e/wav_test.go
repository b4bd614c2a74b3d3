package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// wavHeaderBytes is the size of a canonical PCM WAV header.
const wavHeaderBytes = 44

// errNotPCM16Mono is returned for a WAV that is not 16-bit mono PCM.
var errNotPCM16Mono = errors.New("wav: not 16-bit mono PCM")

// pcm is mono 16-bit audio at rate Hz.
type pcm struct {
	rate    int
	samples []int16
}

// segment is one part of a fake microphone recording: speech (flite says
// text) or, when text is empty, silence lasting pause.
type segment struct {
	text  string
	pause time.Duration
}

// say is a speech segment.
func say(text string) segment { return segment{text: text} }

// silence is a silent segment.
func silence(d time.Duration) segment { return segment{pause: d} }

// flite speaks text with Debian's flite (voice slt) into a WAV file and reads it.
func flite(dir, text string) (pcm, error) {
	f, err := os.CreateTemp(dir, "flite-*.wav")
	if err != nil {
		return pcm{}, fmt.Errorf("flite output file: %w", err)
	}
	out := f.Name()
	_ = f.Close()
	cmd := exec.Command("flite", "-voice", "slt", "-t", text, "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return pcm{}, fmt.Errorf("flite %q: %w: %s", text, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return pcm{}, fmt.Errorf("reading flite output: %w", err)
	}
	return parseWAV(data)
}

// buildRecording renders segments into one WAV file at path: the fake
// microphone Chromium plays once (%noloop).
func buildRecording(dir, path string, segs []segment) (time.Duration, error) {
	var out pcm
	for _, s := range segs {
		if s.text == "" {
			if out.rate == 0 {
				out.rate = fliteRateHz
			}
			out.samples = append(out.samples, make([]int16, int(s.pause.Seconds()*float64(out.rate)))...)
			continue
		}
		p, err := flite(dir, s.text)
		if err != nil {
			return 0, err
		}
		if out.rate != 0 && p.rate != out.rate {
			return 0, fmt.Errorf("flite rate %d Hz, expected %d Hz", p.rate, out.rate)
		}
		out.rate = p.rate
		out.samples = append(out.samples, p.samples...)
	}
	if err := os.WriteFile(path, encodeWAV(out), 0o600); err != nil {
		return 0, fmt.Errorf("writing %s: %w", path, err)
	}
	return time.Duration(len(out.samples)) * time.Second / time.Duration(out.rate), nil
}

// fliteRateHz is the rate of Debian flite's voices (slt).
const fliteRateHz = 16000

// parseWAV reads a RIFF/WAVE file of 16-bit mono PCM, walking its chunks.
func parseWAV(b []byte) (pcm, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return pcm{}, errors.New("wav: not a RIFF/WAVE file")
	}
	var p pcm
	gotFmt := false
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := off + 8
		end := body + size
		if end > len(b) {
			end = len(b) // flite streams may leave the size unset; take what is there
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return pcm{}, errors.New("wav: short fmt chunk")
			}
			format := binary.LittleEndian.Uint16(b[body:])
			channels := binary.LittleEndian.Uint16(b[body+2:])
			bits := binary.LittleEndian.Uint16(b[body+14:])
			if format != 1 || channels != 1 || bits != 16 {
				return pcm{}, fmt.Errorf("%w: format %d, %d channels, %d bits", errNotPCM16Mono, format, channels, bits)
			}
			p.rate = int(binary.LittleEndian.Uint32(b[body+4:]))
			gotFmt = true
		case "data":
			if !gotFmt {
				return pcm{}, errors.New("wav: data before fmt")
			}
			n := (end - body) / 2
			p.samples = make([]int16, n)
			if err := binary.Read(bytes.NewReader(b[body:body+2*n]), binary.LittleEndian, p.samples); err != nil {
				return pcm{}, fmt.Errorf("wav: reading samples: %w", err)
			}
			return p, nil
		}
		off = body + size + size%2
	}
	return pcm{}, errors.New("wav: no data chunk")
}

// encodeWAV writes a canonical 44-byte-header WAV of p.
func encodeWAV(p pcm) []byte {
	dataBytes := 2 * len(p.samples)
	var buf bytes.Buffer
	buf.Grow(wavHeaderBytes + dataBytes)
	buf.WriteString("RIFF")
	_ = binary.Write(&buf, binary.LittleEndian, uint32(wavHeaderBytes-8+dataBytes))
	buf.WriteString("WAVEfmt ")
	fmtChunk := struct {
		Size          uint32
		Format        uint16
		Channels      uint16
		Rate          uint32
		ByteRate      uint32
		BlockAlign    uint16
		BitsPerSample uint16
	}{16, 1, 1, uint32(p.rate), uint32(2 * p.rate), 2, 16}
	_ = binary.Write(&buf, binary.LittleEndian, fmtChunk)
	buf.WriteString("data")
	_ = binary.Write(&buf, binary.LittleEndian, uint32(dataBytes))
	_ = binary.Write(&buf, binary.LittleEndian, p.samples)
	return buf.Bytes()
}
