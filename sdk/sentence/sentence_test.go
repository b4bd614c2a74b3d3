package sentence

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitterSentences(t *testing.T) {
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
			name:   "closing quotes stay with their sentence",
			deltas: []string{`He said "stop!" and left. `},
			want:   []Span{{`He said "stop!"`, 0, 15}, {"and left.", 15, 25}},
			rest:   nil,
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

func TestSplitterCutsLongRuns(t *testing.T) {
	var sp Splitter
	long := strings.Repeat("word ", 100) // 500 bytes, no punctuation
	got := sp.Add(long)
	if assert.NotEmpty(t, got) {
		assert.LessOrEqual(t, got[0].End-got[0].Start, MaxBytes)
		assert.Equal(t, 0, got[0].Start)
	}
	all := append(got, sp.Flush()...)
	end := 0
	for _, s := range all {
		assert.Equal(t, end, s.Start, "spans are contiguous")
		end = s.End
	}
	assert.Equal(t, len(long), end)
}

func TestSplitterNeverSplitsARune(t *testing.T) {
	var sp Splitter
	long := strings.Repeat("é", 400) // no spaces: a forced cut
	got := append(sp.Add(long), sp.Flush()...)
	var joined strings.Builder
	for _, s := range got {
		assert.True(t, strings.ToValidUTF8(s.Text, "?") == s.Text, "valid UTF-8")
		joined.WriteString(s.Text)
	}
	assert.Equal(t, long, joined.String())
}

func FuzzSplitter(f *testing.F) {
	f.Add("Hello there. How are you?", 3)
	f.Add("Dr. Who… \"Yes!\" 3.14\nok", 1)
	f.Fuzz(func(t *testing.T, text string, step int) {
		if step <= 0 {
			step = 1
		}
		var sp Splitter
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
			prev = s.End
		}
	})
}
