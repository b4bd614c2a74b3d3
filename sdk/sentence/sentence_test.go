package sentence

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitterSpans(t *testing.T) {
	tests := []struct {
		name   string
		deltas []string
		want   []Span // after all deltas, before Flush
		rest   []Span // from Flush
	}{
		{
			name:   "boundary confirmed by the next delta",
			deltas: []string{"Hello there.", " How are", " you? Fine"},
			want:   []Span{{"Hello there.", 0, 12}, {"How are you?", 12, 25}},
			rest:   []Span{{"Fine", 25, 30}},
		},
		{
			name:   "decimal numbers and dotted words do not split",
			deltas: []string{"Pi is 3.", "14 today.Really"},
			rest:   []Span{{"Pi is 3.14 today.Really", 0, 23}},
		},
		{
			name:   "abbreviations do not split",
			deltas: []string{"Ask Dr. Smith now. Ok"},
			want:   []Span{{"Ask Dr. Smith now.", 0, 18}},
			rest:   []Span{{"Ok", 18, 21}},
		},
		{
			// A full stop waits for the next word (its case decides), so
			// "left. " stays pending until Flush.
			name:   "closing quotes stay with their sentence",
			deltas: []string{`He said "stop!" and left. `},
			want:   []Span{{`He said "stop!"`, 0, 15}},
			rest:   []Span{{"and left.", 15, 26}},
		},
		{
			name:   "quote after the full stop",
			deltas: []string{`"Go." Then`},
			want:   []Span{{`"Go."`, 0, 5}},
			rest:   []Span{{"Then", 5, 10}},
		},
		{
			name:   "newline ends a sentence",
			deltas: []string{"Line one\nLine two"},
			want:   []Span{{"Line one", 0, 9}},
			rest:   []Span{{"Line two", 9, 17}},
		},
		{
			name:   "white space only is not spoken",
			deltas: []string{"Hi! ", "  "},
			want:   []Span{{"Hi!", 0, 3}},
			rest:   nil,
		},
		{
			name:   "multi-byte text keeps byte offsets",
			deltas: []string{"Ça va… Très bien"},
			want:   []Span{{"Ça va…", 0, 9}},
			rest:   []Span{{"Très bien", 9, 20}},
		},
		{
			name:   "nothing to say is dropped, offsets go on",
			deltas: []string{"Hi! ... ? Yes? "},
			want:   []Span{{"Hi!", 0, 3}, {"Yes?", 9, 14}},
			rest:   nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sp Splitter
			var got []Span
			for _, d := range tt.deltas {
				got = append(got, sp.Add(d)...)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.rest, sp.Flush())
			assert.Empty(t, sp.Flush(), "flush empties the buffer")
		})
	}
}

// sentences feeds text in chunks of step bytes (all at once for step 0)
// and returns the text of each released span, with "|" marking those
// released by the final Flush.
func sentences(t *testing.T, sp *Splitter, text string, step int) []string {
	t.Helper()
	if step <= 0 {
		step = max(len(text), 1)
	}
	var spans []Span
	for i := 0; i < len(text); i += step {
		spans = append(spans, sp.Add(text[i:min(i+step, len(text))])...)
	}
	n := len(spans)
	spans = append(spans, sp.Flush()...)
	out := make([]string, 0, len(spans))
	for i, s := range spans {
		require.Equal(t, strings.TrimSpace(text[s.Start:s.End]), s.Text, "span %+v", s)
		if i >= n {
			out = append(out, "|"+s.Text)
			continue
		}
		out = append(out, s.Text)
	}
	return out
}

// TestSplitterSentences gathers the cases of the splitters this one
// replaced (tts-flite's and the server session's). Each text is fed whole
// and byte by byte; a boundary must not depend on how text is chunked.
func TestSplitterSentences(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"simple", "Hello there. How are you? Fine!", []string{"Hello there.", "How are you?", "|Fine!"}},
		{"abbreviations", "Dr. Smith met Mr. Jones, e.g. at noon. Then left.", []string{"Dr. Smith met Mr. Jones, e.g. at noon.", "|Then left."}},
		{"abbreviations at sentence start", "Dr. Smith is in. Mr. Jones too.", []string{"Dr. Smith is in.", "|Mr. Jones too."}},
		{"abbreviation in brackets", "Ask (Dr. Who) now. Ok.", []string{"Ask (Dr. Who) now.", "|Ok."}},
		{"e.g. mid sentence", "Fruit, e.g. apples, is good. Eat.", []string{"Fruit, e.g. apples, is good.", "|Eat."}},
		{"decimals", "Pi is about 3.14 today. Yes.", []string{"Pi is about 3.14 today.", "|Yes."}},
		{"initials", "J. R. Tolkien wrote it. Really.", []string{"J. R. Tolkien wrote it.", "|Really."}},
		{"three initials", "J. R. R. Tolkien wrote it. Right.", []string{"J. R. R. Tolkien wrote it.", "|Right."}},
		{"I is not an initial", "So do I. Then we go.", []string{"So do I.", "|Then we go."}},
		{"lower case after stop", "It is 5 p.m. today. Ok.", []string{"It is 5 p.m. today.", "|Ok."}},
		{"lower-case continuation", "It weighs approx. five kilos. Fine.", []string{"It weighs approx. five kilos.", "|Fine."}},
		{"upper case after dotted", "Come at 5 p.m. Bring cake.", []string{"Come at 5 p.m.", "|Bring cake."}},
		{"number abbreviations before a number", "See No. 5 on p. 12 for details. Next one.", []string{"See No. 5 on p. 12 for details.", "|Next one."}},
		{"number abbreviation before a word", "I said no. Then I left.", []string{"I said no.", "|Then I left."}},
		{"ellipsis and mixed", "Well... I think so?! Sure.", []string{"Well...", "I think so?!", "|Sure."}},
		{"ellipsis then upper case", "Well... Maybe.", []string{"Well...", "|Maybe."}},
		{"quotes", `He said "stop." Then ran.`, []string{`He said "stop."`, "|Then ran."}},
		{"exclamation in quotes", `He said "Stop!" Then left.`, []string{`He said "Stop!"`, "|Then left."}},
		{"line breaks and lists", "Buy:\n1. Eggs\n2. Milk\n", []string{"Buy:", "1. Eggs", "2. Milk"}},
		{"list after a sentence", "Steps follow. 1. Mix it.", []string{"Steps follow.", "|1. Mix it."}},
		{"newline", "Item one\nItem two", []string{"Item one", "|Item two"}},
		{"no punctuation", "just some words", []string{"|just some words"}},
		{"only punctuation dropped", "Hi! ... ?", []string{"Hi!"}},
		{"urls stay whole", "See example.com for more. Bye.", []string{"See example.com for more.", "|Bye."}},
		{"short sentences", "Yes. No. Maybe.", []string{"Yes.", "No.", "|Maybe."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, sentences(t, &Splitter{}, tt.text, 0), "whole")
			assert.Equal(t, tt.want, sentences(t, &Splitter{}, tt.text, 1), "byte by byte")
		})
	}
}

func TestSplitterSplitInsideNumber(t *testing.T) {
	var sp Splitter
	var got []Span
	for _, d := range []string{"It costs 3", ".", "50 dollars. Ok."} {
		got = append(got, sp.Add(d)...)
	}
	assert.Equal(t, []Span{{"It costs 3.50 dollars.", 0, 22}}, got)
	assert.Equal(t, []Span{{"Ok.", 22, 26}}, sp.Flush())
}

func TestSplitterWaitsForCertainty(t *testing.T) {
	sp := NewSplitter(0)
	assert.Empty(t, sp.Add("The value is 3."), "3. may be the start of 3.5")
	assert.Empty(t, sp.Add("5"))
	assert.Empty(t, sp.Add(" today. "), "the next word decides")
	assert.Equal(t, []Span{{"The value is 3.5 today.", 0, 23}}, sp.Add("It"))
	assert.Equal(t, []Span{{"It works!", 23, 33}}, sp.Add(" works! "))
	assert.Equal(t, []Span{{"Yes?", 33, 38}}, sp.Add("Yes? "), "a question mark is certain on the space")
	assert.Empty(t, sp.Flush())
}

func TestSplitterCutsLongRuns(t *testing.T) {
	t.Run("at a clause break, else a space", func(t *testing.T) {
		text := "one two three four, five six seven eight nine ten eleven twelve"
		got := sentences(t, NewSplitter(30), text, 0)
		assert.Equal(t, []string{"one two three four,", "five six seven eight nine", "|ten eleven twelve"}, got)
	})
	t.Run("default bound", func(t *testing.T) {
		var sp Splitter
		long := strings.Repeat("word ", 100) // 500 bytes, no punctuation
		got := sp.Add(long)
		require.NotEmpty(t, got)
		assert.Equal(t, 0, got[0].Start)
		all := append(got, sp.Flush()...)
		end := 0
		for _, s := range all {
			assert.LessOrEqual(t, s.End-s.Start, MaxBytes)
			assert.Equal(t, end, s.Start, "spans are contiguous")
			end = s.End
		}
		assert.Equal(t, len(long), end)
	})
	t.Run("custom bound", func(t *testing.T) {
		sp := NewSplitter(240)
		got := append(sp.Add(strings.Repeat("word ", 100)), sp.Flush()...)
		require.Len(t, got, 3)
		for _, s := range got {
			assert.LessOrEqual(t, s.End-s.Start, 240)
		}
	})
	t.Run("no bound", func(t *testing.T) {
		sp := NewSplitter(-1)
		assert.Empty(t, sp.Add(strings.Repeat("word ", 1000)))
		assert.Len(t, sp.Flush(), 1)
	})
}

func TestSplitterNeverSplitsARune(t *testing.T) {
	for _, sp := range []*Splitter{{}, NewSplitter(1)} {
		long := strings.Repeat("é", 400) // no spaces: a forced cut
		got := append(sp.Add(long), sp.Flush()...)
		var joined strings.Builder
		for _, s := range got {
			assert.True(t, utf8.ValidString(s.Text), "valid UTF-8")
			joined.WriteString(s.Text)
		}
		assert.Equal(t, long, joined.String())
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add("Hello there. How are you?", 3)
	f.Add("Dr. Who… \"Yes!\" 3.14\nok", 1)
	f.Add("Hello. World! e.g. 3.5 J. Smith\n1. x", 3)
	f.Add("...?!\"') a", 1)
	f.Add("See No. 5, p. 12; so do I. Then", 2)
	f.Fuzz(func(t *testing.T, text string, step int) {
		if step <= 0 {
			step = 1
		}
		for _, sp := range []*Splitter{{}, NewSplitter(40)} {
			var got []Span
			for i := 0; i < len(text); i += step {
				got = append(got, sp.Add(text[i:min(i+step, len(text))])...)
			}
			got = append(got, sp.Flush()...)
			prev := 0
			for _, s := range got {
				if s.Start < prev || s.End <= s.Start || s.End > len(text) {
					t.Fatalf("bad span %+v after %d in %q", s, prev, text)
				}
				if strings.TrimSpace(text[s.Start:s.End]) != s.Text {
					t.Fatalf("text %q does not match span %q", s.Text, text[s.Start:s.End])
				}
				if speakable(text[prev:s.Start]) {
					t.Fatalf("speakable text %q skipped", text[prev:s.Start])
				}
				prev = s.End
			}
			if speakable(text[prev:]) {
				t.Fatalf("speakable tail %q not released", text[prev:])
			}
		}
	})
}
