package session_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/parleyhq/parley/server/internal/session"
)

// The sentence rules themselves are tested in sdk/sentence; these tests
// check that the session's pieces are verbatim and bounded.
func TestSentenceSplitter(t *testing.T) {
	tests := []struct {
		name   string
		deltas []string
		want   []string
	}{
		{name: "two sentences", deltas: []string{"Hello there. How", " are you?"}, want: []string{"Hello there.", " How are you?"}},
		{name: "abbreviation", deltas: []string{"Dr. Smith is in. Mr. Jones too."}, want: []string{"Dr. Smith is in.", " Mr. Jones too."}},
		{name: "split inside number", deltas: []string{"It costs 3", ".", "50 dollars. Ok."}, want: []string{"It costs 3.50 dollars.", " Ok."}},
		{name: "newline", deltas: []string{"Item one\nItem two"}, want: []string{"Item one\n", "Item two"}},
		{name: "nothing to say joins the next sentence", deltas: []string{"Hi! ... ", "Yes? ", " \n"}, want: []string{"Hi!", " ... Yes?", "  \n"}},
		{name: "token by token", deltas: strings.SplitAfter("Yes. No. Maybe.", ""), want: []string{"Yes.", " No.", " Maybe."}},
		{name: "white space only", deltas: []string{"  "}, want: []string{"  "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sp session.SentenceSplitter
			var got []string
			for _, d := range tc.deltas {
				got = append(got, sp.Push(d)...)
			}
			if rest := sp.Flush(); rest != "" {
				got = append(got, rest)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, strings.Join(tc.deltas, ""), strings.Join(got, ""), "verbatim")
			assert.Empty(t, sp.Flush(), "flush empties the buffer")
		})
	}
}

func TestSentenceSplitterReusedAfterFlush(t *testing.T) {
	var sp session.SentenceSplitter
	assert.Equal(t, []string{"One."}, sp.Push("One. Two"))
	assert.Equal(t, " Two", sp.Flush())
	assert.Equal(t, []string{"Three!"}, sp.Push("Three! Four"), "offsets go on across flushes")
	assert.Equal(t, " Four", sp.Flush())
}

func TestSentenceSplitterForcedCut(t *testing.T) {
	var sp session.SentenceSplitter
	got := sp.Push(strings.Repeat("word ", 100))
	assert.NotEmpty(t, got)
	for _, s := range got {
		assert.LessOrEqual(t, len(s), 240)
	}
}
