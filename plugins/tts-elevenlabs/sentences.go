package main

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSentenceBytes bounds how much text waits for a sentence boundary: a
// longer run is cut at its last space so that speech starts anyway.
const maxSentenceBytes = 300

// sentence is a piece of text to synthesize and the span of the stream's
// text it speaks. Start and End are byte offsets into all text sent; Text is
// the span with surrounding white space removed.
type sentence struct {
	Text  string
	Start int
	End   int
}

// abbreviations end with a full stop that does not end a sentence.
var abbreviations = []string{"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "e.g", "i.e"} //nolint:gochecknoglobals // read-only table.

// splitter cuts streamed text (LLM deltas) into sentences. A sentence ends
// at '.', '!', '?', '…' or a newline, optionally followed by closing quotes
// or brackets, once the next character is white space: a boundary is only
// reported when the text after it has arrived, so "3.14" or "Hello.World"
// split across deltas are not cut.
type splitter struct {
	buf    strings.Builder
	offset int // byte offset of buf's start in the stream's text
}

// Add appends text and returns the sentences it completed.
func (s *splitter) Add(text string) []sentence {
	s.buf.WriteString(text)
	var out []sentence
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

// Flush returns whatever text is pending as a last sentence.
func (s *splitter) Flush() []sentence {
	if s.buf.Len() == 0 {
		return nil
	}
	if sn, ok := s.take(s.buf.Len()); ok {
		return []sentence{sn}
	}
	return nil
}

// take removes the first n bytes of the buffer and returns them as a
// sentence; ok is false when they are only white space.
func (s *splitter) take(n int) (sentence, bool) {
	all := s.buf.String()
	raw, rest := all[:n], all[n:]
	start := s.offset
	s.offset += n
	s.buf.Reset()
	s.buf.WriteString(rest)
	text := strings.TrimSpace(raw)
	if text == "" {
		return sentence{}, false
	}
	return sentence{Text: text, Start: start, End: start + n}, true
}

// boundary returns the length of the first complete sentence in the buffer
// (including the white space that confirmed it), or -1.
func (s *splitter) boundary() int {
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
	if len(text) > maxSentenceBytes {
		if cut := strings.LastIndexAny(text[:maxSentenceBytes], " \t"); cut > 0 {
			return cut + 1
		}
		cut := maxSentenceBytes
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
		if !strings.ContainsRune(`"')]»”’`, r) {
			return i
		}
		i += size
	}
	return i
}

// endsWithAbbreviation reports whether text ends with a known abbreviation
// (so that the full stop after it does not end the sentence).
func endsWithAbbreviation(text string) bool {
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
