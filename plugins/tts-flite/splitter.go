package main

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// span is a piece of the stream's text: byte offsets [start, end) into all
// text sent on the stream.
type span struct {
	start, end int
}

// splitter cuts streamed text into sentences. Text arrives in arbitrary
// chunks (LLM deltas); a sentence is released as soon as its end is certain:
//
//   - ". ", "! ", "? " (also "...", "?!" and closing quotes or brackets after
//     the mark) followed by white space, or a line break;
//   - a full stop is not an end after a known abbreviation ("Dr.", "e.g."),
//     a single initial ("J. Smith"), a list number at the start of a line
//     ("1. Eggs"), or when the next word starts with a lower-case letter;
//     "3.5" never splits because no space follows the stop;
//   - a run without any end longer than maxChars is cut at the last comma,
//     semicolon or colon, else the last space, so speech never waits long.
//
// When the end is not yet certain (the chunk ends right after a full stop)
// the splitter waits for more text. Flush releases the remainder. It is not
// safe for concurrent use.
type splitter struct {
	buf      string // unconsumed text; buf[0] is at offset base
	base     int
	scan     int // bytes of buf already known not to hold a boundary
	maxChars int
}

func newSplitter(maxChars int) *splitter {
	return &splitter{maxChars: maxChars}
}

// Add appends text and returns the sentences it completed, in order.
// Spans without anything to speak (only punctuation or space) are dropped.
func (s *splitter) Add(text string) []span {
	s.buf += text
	var out []span
	for {
		end, ok := s.nextBoundary()
		if !ok {
			break
		}
		out = s.appendSpan(out, end)
	}
	return out
}

// Flush returns the remaining text as one last sentence, if it has anything
// to speak, and empties the splitter.
func (s *splitter) Flush() []span {
	return s.appendSpan(nil, len(s.buf))
}

// appendSpan consumes buf[:end] and appends its trimmed span when speakable.
func (s *splitter) appendSpan(out []span, end int) []span {
	piece := s.buf[:end]
	lead := len(piece) - len(strings.TrimLeftFunc(piece, unicode.IsSpace))
	trimmed := strings.TrimRightFunc(piece, unicode.IsSpace)
	if speakable(trimmed) {
		out = append(out, span{start: s.base + lead, end: s.base + len(trimmed)})
	}
	s.base += end
	s.buf = s.buf[end:]
	s.scan = 0
	return out
}

// nextBoundary finds the end (exclusive, in buf) of the first complete
// sentence in buf.
func (s *splitter) nextBoundary() (int, bool) {
	for i := s.scan; i < len(s.buf); {
		r, size := utf8.DecodeRuneInString(s.buf[i:])
		switch {
		case r == '\n':
			return i + size, true
		case isTerminator(r):
			end, decided, boundary := s.judgeTerminator(i)
			if !decided {
				s.scan = i
				return s.cutLong()
			}
			if boundary {
				return end, true
			}
			i = end
			continue
		}
		i += size
	}
	s.scan = len(s.buf)
	return s.cutLong()
}

// judgeTerminator looks at the terminator run starting at i. It returns the
// index after the run (and closing marks), whether the text present is
// enough to decide, and whether the run ends a sentence.
func (s *splitter) judgeTerminator(i int) (end int, decided, boundary bool) {
	j, dots, others := i, 0, 0
run:
	for j < len(s.buf) {
		r, size := utf8.DecodeRuneInString(s.buf[j:])
		switch {
		case r == '.':
			dots++
		case isTerminator(r):
			others++
		case isCloser(r):
		default:
			break run
		}
		j += size
	}
	if j == len(s.buf) {
		return j, false, false
	}
	next, _ := utf8.DecodeRuneInString(s.buf[j:])
	if !unicode.IsSpace(next) {
		return j, true, false // "3.5", "e.g.,", "example.com"
	}
	if others > 0 || dots > 1 {
		return j, true, true // "!", "?", "..."
	}
	// A single full stop: look at the word before and the word after.
	if isAbbreviation(s.wordBefore(i), s.atLineStart(i)) {
		return j, true, false
	}
	k := j
	for k < len(s.buf) {
		r, size := utf8.DecodeRuneInString(s.buf[k:])
		if r == '\n' {
			return j, true, true
		}
		if !unicode.IsSpace(r) {
			return j, true, !unicode.IsLower(r)
		}
		k += size
	}
	return j, false, false // wait for the next word
}

// cutLong splits an over-long run at a clause break or a space.
func (s *splitter) cutLong() (int, bool) {
	if s.maxChars <= 0 || len(s.buf) <= s.maxChars {
		return 0, false
	}
	window := s.buf[:s.maxChars]
	if k := strings.LastIndexAny(window, ",;:"); k > 0 {
		return k + 1, true
	}
	if k := strings.LastIndexFunc(window, unicode.IsSpace); k > 0 {
		return k + 1, true
	}
	return s.maxChars, true
}

// wordBefore returns the word that ends at i, lower-cased, without leading
// punctuation.
func (s *splitter) wordBefore(i int) string {
	k := strings.LastIndexFunc(s.buf[:i], unicode.IsSpace) + 1
	w := strings.TrimLeftFunc(s.buf[k:i], func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return strings.ToLower(w)
}

// atLineStart reports whether the word that ends at i starts a line (or the
// text seen so far; a sentence start is the same for list numbers).
func (s *splitter) atLineStart(i int) bool {
	k := strings.LastIndexFunc(s.buf[:i], unicode.IsSpace)
	before := strings.TrimRightFunc(s.buf[:max(k, 0)], func(r rune) bool { return r == ' ' || r == '\t' })
	return k < 0 || before == "" || strings.HasSuffix(before, "\n")
}

// isAbbreviation reports whether a full stop after word does not end a
// sentence.
func isAbbreviation(word string, lineStart bool) bool {
	switch word {
	case "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "mt", "no", "fig", "approx", "dept", "est", "inc", "ltd", "co",
		"e.g", "i.e", "cf", "al", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec":
		return true
	}
	if utf8.RuneCountInString(word) == 1 {
		r, _ := utf8.DecodeRuneInString(word)
		if unicode.IsLetter(r) { // an initial: "J. Smith"
			return true
		}
	}
	if lineStart && word != "" && strings.IndexFunc(word, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		return true // a list number: "1. Eggs"
	}
	// Dotted abbreviations such as "u.s" or "a.m" are decided by the next word's case.
	return false
}

func isTerminator(r rune) bool {
	return r == '.' || r == '!' || r == '?' || r == '…'
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '}', '’', '”', '»':
		return true
	}
	return false
}

// speakable reports whether text has a letter or digit to say.
func speakable(text string) bool {
	return strings.IndexFunc(text, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}
