package recording

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The recording's audio format: 16 kHz, 16-bit, stereo (user left,
// agent right).
const (
	// SampleRate of both channels (Hz).
	SampleRate    = 16000
	channels      = 2
	bitsPerSample = 16
	// frameBytes is one stereo sample frame.
	frameBytes = channels * bitsPerSample / 8
	// headerBytes is the canonical 44-byte RIFF/WAVE header.
	headerBytes = 44
	// riffSizeAt and dataSizeAt are the offsets of the two sizes the
	// writer rewrites.
	riffSizeAt = 4
	dataSizeAt = 40
	// fmtChunkBytes is the size of a PCM fmt chunk's body.
	fmtChunkBytes = 16
	formatPCM     = 1
)

// wavHeader is the header of a stereo 16 kHz WAV holding dataBytes of
// samples.
func wavHeader(dataBytes uint32) []byte {
	h := make([]byte, 0, headerBytes)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, headerBytes-8+dataBytes)
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, fmtChunkBytes)
	h = binary.LittleEndian.AppendUint16(h, formatPCM)
	h = binary.LittleEndian.AppendUint16(h, channels)
	h = binary.LittleEndian.AppendUint32(h, SampleRate)
	h = binary.LittleEndian.AppendUint32(h, SampleRate*frameBytes)
	h = binary.LittleEndian.AppendUint16(h, frameBytes)
	h = binary.LittleEndian.AppendUint16(h, bitsPerSample)
	h = append(h, "data"...)
	return binary.LittleEndian.AppendUint32(h, dataBytes)
}

// writeSizes rewrites the header's sizes for dataBytes of samples.
func writeSizes(w io.WriterAt, dataBytes uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], headerBytes-8+dataBytes)
	if _, err := w.WriteAt(b[:], riffSizeAt); err != nil {
		return fmt.Errorf("recording: wav header: %w", err)
	}
	binary.LittleEndian.PutUint32(b[:], dataBytes)
	if _, err := w.WriteAt(b[:], dataSizeAt); err != nil {
		return fmt.Errorf("recording: wav header: %w", err)
	}
	return nil
}
