package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// sentences feeds chunks and returns the text of each released span, with
// "|" marking where a flush happened.
func sentences(text string, chunks []string, flush bool, maxChars int) []string {
	s := newSplitter(maxChars)
	var out []string
	for _, c := range chunks {
		for _, sp := range s.Add(c) {
			out = append(out, text[sp.start:sp.end])
		}
	}
	if flush {
		for _, sp := range s.Flush() {
			out = append(out, "|"+text[sp.start:sp.end])
		}
	}
	return out
}

func TestSplitterSentences(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []string
	}{
		{"simple", "Hello there. How are you? Fine!", []string{"Hello there.", "How are you?", "|Fine!"}},
		{"abbreviations", "Dr. Smith met Mr. Jones, e.g. at noon. Then left.", []string{"Dr. Smith met Mr. Jones, e.g. at noon.", "|Then left."}},
		{"decimals", "Pi is about 3.14 today. Yes.", []string{"Pi is about 3.14 today.", "|Yes."}},
		{"initials", "J. R. Tolkien wrote it. Really.", []string{"J. R. Tolkien wrote it.", "|Really."}},
		{"lower case after stop", "It is 5 p.m. today. Ok.", []string{"It is 5 p.m. today.", "|Ok."}},
		{"upper case after dotted", "Come at 5 p.m. Bring cake.", []string{"Come at 5 p.m.", "|Bring cake."}},
		{"ellipsis and mixed", "Well... I think so?! Sure.", []string{"Well...", "I think so?!", "|Sure."}},
		{"quotes", `He said "stop." Then ran.`, []string{`He said "stop."`, "|Then ran."}},
		{"line breaks and lists", "Buy:\n1. Eggs\n2. Milk\n", []string{"Buy:", "1. Eggs", "2. Milk"}},
		{"no punctuation", "just some words", []string{"|just some words"}},
		{"only punctuation dropped", "Hi! ... ?", []string{"Hi!", "|... ?"}},
		{"urls stay whole", "See example.com for more. Bye.", []string{"See example.com for more.", "|Bye."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := sentences(tc.text, []string{tc.text}, true, 0)
			want := tc.want
			if tc.name == "only punctuation dropped" {
				want = []string{"Hi!"}
			}
			assert.Equal(t, want, got)
			// Byte by byte gives the same sentences (flush aside).
			var chunks []string
			for i := range len(tc.text) {
				chunks = append(chunks, tc.text[i:i+1])
			}
			assert.Equal(t, strip(want), strip(sentences(tc.text, chunks, true, 0)))
		})
	}
}

func strip(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.TrimPrefix(s, "|")
	}
	return out
}

func TestSplitterWaitsForCertainty(t *testing.T) {
	s := newSplitter(0)
	assert.Empty(t, s.Add("The value is 3."), "3. may be the start of 3.5")
	assert.Empty(t, s.Add("5"))
	assert.Empty(t, s.Add(" today. "), "the next word decides")
	assert.Equal(t, []span{{0, 23}}, s.Add("It"))
	assert.Equal(t, []span{{24, 33}}, s.Add(" works! "))
	assert.Equal(t, []span{{34, 38}}, s.Add("Yes? "), "question mark is certain on the space")
	assert.Empty(t, s.Flush())
}

func TestSplitterCutsLongRuns(t *testing.T) {
	text := "one two three four, five six seven eight nine ten eleven twelve"
	got := sentences(text, []string{text}, true, 30)
	assert.Equal(t, []string{"one two three four,", "five six seven eight nine", "|ten eleven twelve"}, got)
}

func FuzzSplitter(f *testing.F) {
	f.Add("Hello. World! e.g. 3.5 J. Smith\n1. x", 3)
	f.Add("...?!\"') a", 1)
	f.Fuzz(func(t *testing.T, text string, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		s := newSplitter(40)
		var spans []span
		for i := 0; i < len(text); i += chunk {
			spans = append(spans, s.Add(text[i:min(i+chunk, len(text))])...)
		}
		spans = append(spans, s.Flush()...)
		prev := 0
		for _, sp := range spans {
			if sp.start < prev || sp.end <= sp.start || sp.end > len(text) {
				t.Fatalf("bad span %+v after %d in %q", sp, prev, text)
			}
			if strings.TrimSpace(text[prev:sp.start]) != "" && speakable(text[prev:sp.start]) {
				t.Fatalf("speakable text %q skipped", text[prev:sp.start])
			}
			prev = sp.end
		}
		if speakable(text[prev:]) {
			t.Fatalf("speakable tail %q not released", text[prev:])
		}
	})
}
