// Package sentence cuts streamed text, such as LLM deltas arriving at a
// TTS plugin, into sentences that can be spoken one at a time, and keeps
// the byte span of the stream's text each sentence covers (for
// sdk.AudioChunk TextStart and TextEnd).
package sentence

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxBytes bounds how much text waits for a sentence boundary: a longer
// run is cut at its last space (or, without one, at a rune boundary) so
// that speech starts anyway.
const MaxBytes = 300

// closers are the closing quotes and brackets that stay with the sentence
// they follow.
const closers = `"')]»”’`

// Span is a piece of text to speak and the span of the stream's text it
// covers. Start and End are byte offsets into all text added so far; Text
// is that span with surrounding white space removed.
type Span struct {
	Text  string
	Start int
	End   int
}

// Splitter cuts streamed text into sentences. A sentence ends at '.', '!',
// '?', '…' or a newline, optionally followed by closing quotes or
// brackets, once the next character is white space; a full stop after a
// common abbreviation ("Dr.", "e.g.") does not end one. A boundary is only
// reported when the text after it has arrived, so "3.14" or "Hello.World"
// split across deltas are not cut. The zero value is ready to use; a
// Splitter is not safe for concurrent use.
type Splitter struct {
	buf    strings.Builder
	offset int // byte offset of buf's start in the stream's text
}

// Add appends text and returns the sentences it completed, in order.
func (s *Splitter) Add(text string) []Span {
	s.buf.WriteString(text)
	var out []Span
	for {
		cut := s.boundary()
		if cut < 0 {
			return out
		}
		if sn, ok := s.take(cut); ok {
			out = append(out, sn)
		}
	}
}

// Flush returns whatever text is pending as a last sentence (none when it
// is only white space) and empties the buffer.
func (s *Splitter) Flush() []Span {
	if s.buf.Len() == 0 {
		return nil
	}
	if sn, ok := s.take(s.buf.Len()); ok {
		return []Span{sn}
	}
	return nil
}

// take removes the first n bytes of the buffer and returns them as a
// sentence; ok is false when they are only white space.
func (s *Splitter) take(n int) (Span, bool) {
	all := s.buf.String()
	raw, rest := all[:n], all[n:]
	start := s.offset
	s.offset += n
	s.buf.Reset()
	s.buf.WriteString(rest)
	text := strings.TrimSpace(raw)
	if text == "" {
		return Span{}, false
	}
	return Span{Text: text, Start: start, End: start + n}, true
}

// boundary returns the length of the first complete sentence in the buffer
// (including the white space that confirmed it), or -1.
func (s *Splitter) boundary() int {
	text := s.buf.String()
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		end := i + size
		switch r {
		case '\n':
			return end
		case '.', '!', '?', '…':
			j := skipClosers(text, end)
			if j >= len(text) {
				return -1 // the next character decides; wait for it
			}
			next, _ := utf8.DecodeRuneInString(text[j:])
			if unicode.IsSpace(next) && (r != '.' || !endsWithAbbreviation(text[:i])) {
				return j
			}
		}
		i = end
	}
	if len(text) > MaxBytes {
		if cut := strings.LastIndexAny(text[:MaxBytes], " \t"); cut > 0 {
			return cut + 1
		}
		cut := MaxBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut-- // never split a rune
		}
		return cut
	}
	return -1
}

// skipClosers returns the index after any closing quotes or brackets at i.
func skipClosers(text string, i int) int {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !strings.ContainsRune(closers, r) {
			return i
		}
		i += size
	}
	return i
}

// endsWithAbbreviation reports whether text ends with a known abbreviation
// (so that the full stop after it does not end the sentence).
func endsWithAbbreviation(text string) bool {
	abbreviations := [...]string{"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "e.g", "i.e"}
	lower := strings.ToLower(text)
	for _, a := range abbreviations {
		if strings.HasSuffix(lower, a) {
			before := len(lower) - len(a)
			if before == 0 || !unicode.IsLetter(rune(lower[before-1])) {
				return true
			}
		}
	}
	return false
}
