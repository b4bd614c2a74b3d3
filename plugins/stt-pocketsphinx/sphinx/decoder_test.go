package sphinx

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// alternate matches the pronunciation suffix of dictionary words ("the(2)").
var alternate = regexp.MustCompile(`\(\d+\)$`)

// TestDecoderWordTimings decodes two utterances on one decoder and checks
// that the word segments spell the hypothesis and are timed from each
// utterance's own start, although pocketsphinx keeps counting frames.
func TestDecoderWordTimings(t *testing.T) {
	d, err := newDecoder(DefaultSettings().decoderArgs())
	require.NoError(t, err)
	defer d.free()

	var starts []time.Duration
	for _, text := range []string{"hello how are you", "what time is it"} {
		pcm := speech(t, text)
		require.NoError(t, d.process(pcm))
		r, err := d.endUtterance()
		require.NoError(t, err)
		require.Equal(t, text, r.text)
		require.NotEmpty(t, r.words)
		spelled := make([]string, len(r.words))
		var prevEnd time.Duration
		for i, w := range r.words {
			spelled[i] = alternate.ReplaceAllString(w.text, "")
			assert.Less(t, w.start, w.end, "word %q", w.text)
			assert.GreaterOrEqual(t, w.start, prevEnd, "word %q", w.text)
			prevEnd = w.end
		}
		assert.Equal(t, text, strings.Join(spelled, " "))
		assert.LessOrEqual(t, prevEnd, samplesToDuration(int64(len(pcm)/bytesPerSample)))
		starts = append(starts, r.words[0].start)
		assert.False(t, d.inUtt)
	}
	// Both sentences start after the same silence padding plus flite's own
	// lead-in, so their first words start close together (a frame count
	// carried over from the first utterance would push the second by ~1.8 s).
	assert.InDelta(t, starts[0].Seconds(), starts[1].Seconds(), 0.2)
}

func TestDecoderRejectsUnknownFlag(t *testing.T) {
	_, err := newDecoder(append(DefaultSettings().decoderArgs(), "-no_such_flag", "1"))
	require.ErrorIs(t, err, errOptions)
}
