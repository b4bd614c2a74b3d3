package main

import "encoding/binary"

// WAV header layout for PCM16 mono (RIFF, a 16-byte fmt chunk, data).
const (
	wavHeaderBytes   = 44
	wavFmtChunkBytes = 16
	wavFormatPCM     = 1
	wavChannels      = 1
	wavBitsPerSample = 16
)

// wavFile returns pcm (PCM16LE mono at rate) as a WAV file.
func wavFile(pcm []byte, rate int) []byte {
	blockAlign := wavChannels * wavBitsPerSample / 8
	out := make([]byte, wavHeaderBytes, wavHeaderBytes+len(pcm))
	copy(out[0:], "RIFF")
	binary.LittleEndian.PutUint32(out[4:], uint32(wavHeaderBytes-8+len(pcm)))
	copy(out[8:], "WAVE")
	copy(out[12:], "fmt ")
	binary.LittleEndian.PutUint32(out[16:], wavFmtChunkBytes)
	binary.LittleEndian.PutUint16(out[20:], wavFormatPCM)
	binary.LittleEndian.PutUint16(out[22:], wavChannels)
	binary.LittleEndian.PutUint32(out[24:], uint32(rate))
	binary.LittleEndian.PutUint32(out[28:], uint32(rate*blockAlign))
	binary.LittleEndian.PutUint16(out[32:], uint16(blockAlign))
	binary.LittleEndian.PutUint16(out[34:], wavBitsPerSample)
	copy(out[36:], "data")
	binary.LittleEndian.PutUint32(out[40:], uint32(len(pcm)))
	return append(out, pcm...)
}
