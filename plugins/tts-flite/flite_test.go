package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSynthesizeStreamsEveryVoice(t *testing.T) {
	for _, name := range voiceNames() {
		t.Run(name, func(t *testing.T) {
			vd, ok := lookupVoice(name)
			require.True(t, ok)
			v, err := loadVoice(vd.id)
			require.NoError(t, err)
			var pieces, total int
			var rate int
			var sawLast bool
			err = synthesize(v, "Hello there, how are you today?", 1, 640, func(s []int16, r int, last bool) bool {
				pieces++
				total += len(s)
				rate = r
				sawLast = sawLast || last
				return true
			})
			require.NoError(t, err)
			assert.Equal(t, vd.rate, rate)
			assert.True(t, sawLast)
			assert.Greater(t, pieces, 1, "audio should arrive in several pieces")
			assert.Greater(t, total, rate, "more than a second of speech")
		})
	}
}

func TestSynthesizeStopsWhenSinkRefuses(t *testing.T) {
	vd, ok := lookupVoice("slt")
	require.True(t, ok)
	v, err := loadVoice(vd.id)
	require.NoError(t, err)
	calls := 0
	err = synthesize(v, "This is a long sentence that would take several seconds to speak aloud in full.", 1, 320, func([]int16, int, bool) bool {
		calls++
		return false
	})
	require.ErrorIs(t, err, errSynthStopped)
	assert.Equal(t, 1, calls)
}
