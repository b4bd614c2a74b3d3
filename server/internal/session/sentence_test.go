package session_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/parleyhq/parley/server/internal/session"
)

func TestSentenceSplitter(t *testing.T) {
	tests := []struct {
		name   string
		deltas []string
		want   []string
	}{
		{name: "two sentences", deltas: []string{"Hello there. How", " are you?"}, want: []string{"Hello there. ", "How are you?"}},
		{name: "abbreviation", deltas: []string{"Dr. Smith is in. Mr. Jones too."}, want: []string{"Dr. Smith is in. ", "Mr. Jones too."}},
		{name: "decimal", deltas: []string{"Pi is 3.14 roughly. Yes."}, want: []string{"Pi is 3.14 roughly. ", "Yes."}},
		{name: "split inside number", deltas: []string{"It costs 3", ".", "50 dollars. Ok."}, want: []string{"It costs 3.50 dollars. ", "Ok."}},
		{name: "initials", deltas: []string{"J. R. R. Tolkien wrote it. Right."}, want: []string{"J. R. R. Tolkien wrote it. ", "Right."}},
		{name: "e.g.", deltas: []string{"Fruit, e.g. apples, is good. Eat."}, want: []string{"Fruit, e.g. apples, is good. ", "Eat."}},
		{name: "lower-case continuation", deltas: []string{"It weighs approx. five kilos. Fine."}, want: []string{"It weighs approx. five kilos. ", "Fine."}},
		{name: "exclamation and quote", deltas: []string{`He said "Stop!" Then left.`}, want: []string{`He said "Stop!" `, "Then left."}},
		{name: "newline", deltas: []string{"Item one\nItem two"}, want: []string{"Item one\n", "Item two"}},
		{name: "ellipsis", deltas: []string{"Well... Maybe."}, want: []string{"Well... ", "Maybe."}},
		{name: "token by token", deltas: strings.SplitAfter("Yes. No. Maybe.", ""), want: []string{"Yes. ", "No. ", "Maybe."}},
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
		})
	}
}

func TestSentenceSplitterForcedCut(t *testing.T) {
	var sp session.SentenceSplitter
	got := sp.Push(strings.Repeat("word ", 100))
	assert.NotEmpty(t, got)
	for _, s := range got {
		assert.LessOrEqual(t, len(s), 240)
	}
}

func TestSentenceSplitterNumberAbbreviation(t *testing.T) {
	var sp session.SentenceSplitter
	got := sp.Push("See No. 5 on p. 12 for details. Next one.")
	assert.Equal(t, []string{"See No. 5 on p. 12 for details. "}, got)
}
