package session

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSentenceBytes forces a cut (at the last space) in text without
// sentence punctuation, so TTS latency stays bounded.
const maxSentenceBytes = 240

// abbreviations end with a full stop that does not end a sentence
// (compared lower-case, without the final dot).
func isAbbreviation(word string) bool {
	switch strings.ToLower(word) {
	case "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "a.m", "p.m",
		"u.s", "u.k", "approx", "inc", "ltd", "co", "corp", "mt", "ave", "dept",
		"est", "gen", "gov", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
		"cf", "al", "min", "max", "hr", "hrs":
		return true
	}
	return false
}

// isNumberAbbreviation: these end a sentence unless a number follows
// ("No. 5", "p. 12", but "I said no. Then…").
func isNumberAbbreviation(word string) bool {
	switch strings.ToLower(word) {
	case "no", "nos", "fig", "vol", "ch", "p", "pp", "art", "sec":
		return true
	}
	return false
}

// SentenceSplitter cuts streamed LLM text into sentences for TTS. Sentences
// are returned verbatim, trailing whitespace included, so that their
// concatenation is exactly the input (TTS text offsets stay valid).
// Abbreviations ("Dr. Smith"), initials ("J. R. Tolkien"), decimal numbers
// ("3.14") and ordinals in lists do not end a sentence.
type SentenceSplitter struct {
	buf []byte
}

// Push adds a delta and returns the sentences it completed.
func (s *SentenceSplitter) Push(delta string) []string {
	s.buf = append(s.buf, delta...)
	var out []string
	for {
		n := s.boundary()
		if n <= 0 {
			break
		}
		out = append(out, string(s.buf[:n]))
		s.buf = s.buf[n:]
	}
	if len(s.buf) > maxSentenceBytes {
		if cut := forcedCut(s.buf); cut > 0 {
			out = append(out, string(s.buf[:cut]))
			s.buf = s.buf[cut:]
		}
	}
	return out
}

// Flush returns the buffered rest (possibly empty).
func (s *SentenceSplitter) Flush() string {
	rest := string(s.buf)
	s.buf = s.buf[:0]
	return rest
}

// boundary returns the length of the first complete sentence in buf,
// trailing whitespace included, or 0 if none is complete yet. A sentence is
// complete once the first character of the next one is known.
func (s *SentenceSplitter) boundary() int {
	b := s.buf
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\n' {
			j := skipSpace(b, i+1)
			if j == len(b) {
				return 0
			}
			return j
		}
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		// Swallow runs of terminators and closing quotes/brackets.
		j := i + 1
		for j < len(b) && strings.IndexByte(".!?\"')]”’", b[j]) >= 0 {
			j++
		}
		if j < len(b) && b[j] >= 0x80 {
			r, size := utf8.DecodeRune(b[j:])
			if r == '”' || r == '’' || r == '»' {
				j += size
			}
		}
		if j == len(b) {
			return 0 // need to see what follows
		}
		if !isSpace(b[j]) {
			i = j - 1
			continue // "3.14", "e.g.x", "U.S.A"
		}
		k := skipSpace(b, j)
		if k == len(b) {
			return 0 // need the next word's first character
		}
		if c == '.' && !endsSentence(b[:i], b[k:]) {
			i = k - 1
			continue
		}
		return k
	}
	return 0
}

// endsSentence decides for a full stop after before, followed by after.
func endsSentence(before, after []byte) bool {
	start := len(before)
	for start > 0 && !isSpace(before[start-1]) && before[start-1] != '(' && before[start-1] != '"' {
		start--
	}
	word := string(before[start:])
	if word == "" {
		return true
	}
	next, _ := utf8.DecodeRune(after)
	if isAbbreviation(word) || (isNumberAbbreviation(word) && unicode.IsDigit(next)) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(word)
	if utf8.RuneCountInString(word) == 1 && unicode.IsUpper(r) {
		return false // an initial
	}
	if unicode.IsLower(next) {
		return false // "approx. five", a lower-case continuation
	}
	if allDigits(word) && unicode.IsDigit(next) {
		return false // "1. 2." numbered fragments
	}
	return true
}

func allDigits(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return s != ""
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// forcedCut returns the cut after the last space or comma before
// maxSentenceBytes, or 0.
func forcedCut(b []byte) int {
	limit := min(len(b), maxSentenceBytes)
	for i := limit - 1; i > 0; i-- {
		if isSpace(b[i]) {
			return skipSpace(b, i)
		}
	}
	return 0
}
