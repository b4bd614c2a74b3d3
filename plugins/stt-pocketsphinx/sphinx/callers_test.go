package sphinx

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCallersRemember(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCallers(2, time.Minute, func() time.Time { return now })
	st := func(v float32, frames int) cmnState {
		return cmnState{mean: cmnMean(v), frames: frames}
	}

	_, ok := c.recall("a")
	assert.False(t, ok, "an unknown session")
	c.remember("", st(1, 10))
	c.remember("a", cmnState{})
	assert.Zero(t, c.order.Len(), "no session name or no mean: nothing kept")

	c.remember("a", st(1, 10))
	c.remember("b", st(2, 20))
	got, ok := c.recall("a")
	require.True(t, ok)
	assert.Equal(t, st(1, 10), got)
	c.remember("a", st(3, 30))
	got, _ = c.recall("a")
	assert.Equal(t, st(3, 30), got, "the last stream's mean wins")

	c.remember("c", st(4, 40))
	_, ok = c.recall("b")
	assert.False(t, ok, "the least recently used session goes beyond the bound")
	assert.Equal(t, 2, c.order.Len())

	now = now.Add(2 * time.Minute)
	_, ok = c.recall("a")
	assert.False(t, ok, "a session idle for too long starts afresh")
	assert.Equal(t, 1, c.order.Len(), "and is forgotten")
}

func cmnMean(v float32) []float32 {
	m := make([]float32, 13)
	for i := range m {
		m[i] = v
	}
	return m
}

// TestSessionKeepsItsMean: with one decoder serving two callers in turn, a
// clear caller's question is heard as if the muffled caller in between had
// not been there, because the session's stream starts from the mean its
// last stream learnt; a stream that names no session starts from the
// decoder's (the muffled caller's), and mishears.
func TestSessionKeepsItsMean(t *testing.T) {
	clear := speech(t, "hello how are you doing today")
	question := speech(t, "what is seven times six")
	muffled := muffle(speech(t, "hello how are you doing today"), 0.05)

	// What one decoder hears after the clear caller alone, and after the
	// muffled one: the scenario must tell them apart.
	heard := func(history ...[]byte) string {
		d, err := newDecoder(DefaultSettings().decoderArgs())
		require.NoError(t, err)
		defer d.free()
		var r result
		for _, pcm := range append(history, question) {
			require.NoError(t, d.process(pcm))
			r, err = d.endUtterance()
			require.NoError(t, err)
		}
		return r.text
	}
	afterClear := heard(clear)
	afterMuffled := heard(muffled, muffled, muffled)
	require.NotEqual(t, afterClear, afterMuffled, "the muffled caller changes what the decoder hears")

	e := newEngine(t, `{"pool_size": 1}`)
	session := func(id string) sdk.STTConfig { c := sttConfig(false); c.SessionID = id; return c }
	transcribeWith(t, e, session("clear"), clear)
	transcribeWith(t, e, session("muffled"), muffled, muffled, muffled)
	got := transcribeWith(t, e, session("clear"), question).finals()
	require.Len(t, got, 1)
	assert.Equal(t, afterClear, got[0].Text, "the clear caller's stream starts from its own mean")

	transcribeWith(t, e, session("muffled"), muffled, muffled, muffled)
	got = transcribeWith(t, e, sttConfig(false), question).finals()
	require.Len(t, got, 1)
	assert.NotEqual(t, afterClear, got[0].Text, "a stream without a session starts from the decoder's last (muffled) mean")
}

// muffle scales PCM16LE by gain after a one-pole low-pass filter, as a
// quiet caller on a bad line.
func muffle(pcm []byte, gain float64) []byte {
	out := make([]byte, len(pcm))
	var y float64
	for i := 0; i+1 < len(pcm); i += bytesPerSample {
		x := float64(int16(binary.LittleEndian.Uint16(pcm[i:])))
		y += 0.2 * (x - y)
		binary.LittleEndian.PutUint16(out[i:], uint16(int16(y*gain)))
	}
	return out
}
