package sphinx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// Test audio shape.
const (
	chunkDuration = 20 * time.Millisecond
	chunkBytes    = int(SampleRate*chunkDuration/time.Second) * bytesPerSample
	// padDuration of silence goes before and after each sentence, as the
	// host's VAD pre-roll and end-of-turn silence would.
	padDuration = 200 * time.Millisecond
	fliteVoice  = "slt"
)

// speech synthesises text with Debian's flite CLI into a temporary WAV and
// returns it as 16 kHz mono PCM16LE framed by silence.
func speech(t testing.TB, text string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "speech.wav")
	out, err := exec.Command("flite", "-voice", fliteVoice, "-t", text, "-o", path).CombinedOutput()
	require.NoError(t, err, "flite: %s", out)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	w, err := readWAV(f)
	require.NoError(t, err)
	require.Equal(t, 1, w.channels, "flite writes mono")
	pcm := w.pcm
	if w.sampleRate != SampleRate {
		pcm = resample(pcm, w.sampleRate, SampleRate)
	}
	pad := make([]byte, int(SampleRate*padDuration/time.Second)*bytesPerSample)
	return bytes.Join([][]byte{pad, pcm, pad}, nil)
}

// wav is the part of a WAV file the tests need.
type wav struct {
	sampleRate int
	channels   int
	pcm        []byte
}

var errNotWAV = errors.New("not a PCM16 WAV file")

// readWAV is a minimal RIFF/WAVE reader for PCM16 files.
func readWAV(r io.Reader) (wav, error) {
	const (
		riffHeader = 12
		chunkHead  = 8
		fmtPCM     = 1
		fmtMinSize = 16
		bits16     = 16
	)
	data, err := io.ReadAll(r)
	if err != nil {
		return wav{}, err
	}
	if len(data) < riffHeader || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return wav{}, errNotWAV
	}
	var w wav
	gotFmt := false
	for rest := data[riffHeader:]; len(rest) >= chunkHead; {
		id, size := string(rest[0:4]), int(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[chunkHead:]
		if size > len(body) {
			size = len(body) // flite streaming output leaves sizes unset
		}
		switch id {
		case "fmt ":
			if size < fmtMinSize || binary.LittleEndian.Uint16(body[0:2]) != fmtPCM ||
				binary.LittleEndian.Uint16(body[14:16]) != bits16 {
				return wav{}, errNotWAV
			}
			w.channels = int(binary.LittleEndian.Uint16(body[2:4]))
			w.sampleRate = int(binary.LittleEndian.Uint32(body[4:8]))
			gotFmt = true
		case "data":
			if !gotFmt {
				return wav{}, errNotWAV
			}
			w.pcm = body[:size&^1]
			return w, nil
		}
		next := chunkHead + size + size&1
		if next > len(rest) {
			break
		}
		rest = rest[next:]
	}
	return wav{}, errNotWAV
}

// resample converts PCM16LE between rates by linear interpolation; flite's
// slt voice is already 16 kHz, so this only runs for other voices.
func resample(pcm []byte, from, to int) []byte {
	n := len(pcm) / bytesPerSample
	in := make([]int16, n)
	for i := range in {
		in[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
	}
	m := n * to / from
	out := make([]byte, m*bytesPerSample)
	for j := range m {
		x := float64(j) * float64(from) / float64(to)
		i := int(x)
		frac := x - float64(i)
		a := float64(in[min(i, n-1)])
		b := float64(in[min(i+1, n-1)])
		binary.LittleEndian.PutUint16(out[2*j:], uint16(int16(a+(b-a)*frac)))
	}
	return out
}

// received is what one stream produced.
type received struct {
	events []sdk.TranscriptEvent
	err    error // the error that ended Recv; io.EOF for a clean end
}

func (r received) finals() []sdk.TranscriptEvent {
	var out []sdk.TranscriptEvent
	for _, ev := range r.events {
		if ev.Final {
			out = append(out, ev)
		}
	}
	return out
}

// receive calls Recv on its own goroutine until it fails.
func receive(st sdk.STTStream) <-chan received {
	ch := make(chan received, 1)
	go func() {
		var r received
		for {
			ev, err := st.Recv()
			if err != nil {
				r.err = err
				ch <- r
				return
			}
			r.events = append(r.events, ev)
		}
	}()
	return ch
}

// sendChunks streams pcm in 20 ms chunks.
func sendChunks(t testing.TB, st sdk.STTStream, pcm []byte) {
	t.Helper()
	for off := 0; off < len(pcm); off += chunkBytes {
		require.NoError(t, st.SendAudio(pcm[off:min(off+chunkBytes, len(pcm))]))
	}
}

// transcribeAll streams each utterance, flushing after each, then closes
// the stream and returns everything received.
func transcribeAll(t testing.TB, e *Engine, interim bool, utterances ...[]byte) received {
	t.Helper()
	return transcribeWith(t, e, sttConfig(interim), utterances...)
}

// transcribeWith is transcribeAll on a stream opened with cfg.
func transcribeWith(t testing.TB, e *Engine, cfg sdk.STTConfig, utterances ...[]byte) received {
	t.Helper()
	st, err := e.Transcribe(context.Background(), cfg)
	require.NoError(t, err)
	done := receive(st)
	for i, pcm := range utterances {
		sendChunks(t, st, pcm)
		if i < len(utterances)-1 {
			require.NoError(t, st.Flush())
		}
	}
	require.NoError(t, st.CloseSend())
	r := <-done
	require.ErrorIs(t, r.err, io.EOF)
	return r
}

func TestReadWAV(t *testing.T) {
	pcm := []byte{1, 0, 2, 0, 3, 0}
	var b bytes.Buffer
	b.WriteString("RIFF")
	require.NoError(t, binary.Write(&b, binary.LittleEndian, uint32(36+len(pcm))))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(SampleRate), uint32(SampleRate * 2), uint16(2), uint16(16)} {
		require.NoError(t, binary.Write(&b, binary.LittleEndian, v))
	}
	b.WriteString("data")
	require.NoError(t, binary.Write(&b, binary.LittleEndian, uint32(len(pcm))))
	b.Write(pcm)

	w, err := readWAV(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	require.Equal(t, wav{sampleRate: SampleRate, channels: 1, pcm: pcm}, w)

	_, err = readWAV(strings.NewReader("RIFF....WAVX"))
	require.ErrorIs(t, err, errNotWAV)
}
