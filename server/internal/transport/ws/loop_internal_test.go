package ws

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadMessage: whatever the hint, the whole message (or the first
// limit bytes of a larger one) comes back.
func TestReadMessage(t *testing.T) {
	msg := bytes.Repeat([]byte{1, 2, 3, 4, 5}, 128) // 640 bytes: a 20 ms frame
	for _, hint := range []int{0, 1, 100, 639, 640, 641, 5000} {
		got, err := readMessage(bytes.NewReader(msg), 1<<16, hint)
		require.NoError(t, err)
		assert.Equal(t, msg, got, "hint %d", hint)
	}
	got, err := readMessage(bytes.NewReader(msg), 101, 640)
	require.NoError(t, err)
	assert.Equal(t, msg[:101], got, "cut at the limit (the caller sees it is over)")
	got, err = readMessage(bytes.NewReader(nil), 100, 640)
	require.NoError(t, err)
	assert.Empty(t, got)
	r := bytes.NewReader(msg)
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { r.Reset(msg); _, _ = readMessage(r, 1<<16, 640) }),
		"a frame of the hinted size is one allocation")
}
