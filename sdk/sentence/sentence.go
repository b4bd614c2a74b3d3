// Package sentence cuts streamed text, such as LLM deltas arriving at a
// TTS plugin or at the server's TTS stage, into sentences that can be
// spoken one at a time, and keeps the byte span of the stream's text each
// sentence covers (for sdk.AudioChunk TextStart and TextEnd). Stream runs
// a whole sdk.TTSStream on top of it for engines that speak one sentence
// per request.
package sentence

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxBytes is the default bound on how much text waits for a sentence end
// (see NewSplitter).
const MaxBytes = 300

// Span is a piece of text to speak and the span of the stream's text it
// covers. Start and End are byte offsets into all text added so far; Text
// is that span with surrounding white space removed. A span starts where
// the previous one ended (white space between two sentences opens the
// second), except after text that was dropped because it has nothing to
// say (only white space or punctuation).
type Span struct {
	Text  string
	Start int
	End   int
}

// Splitter cuts streamed text into sentences. Text arrives in arbitrary
// chunks; a sentence is released as soon as its end is certain:
//
//   - '.', '!', '?', '…' (and runs such as "...", "?!"), optionally followed
//     by closing quotes or brackets, then white space; or a line break;
//   - a single full stop is not an end after a known abbreviation ("Dr.",
//     "e.g."), an upper-case initial other than "I" ("J. Smith"), a number
//     abbreviation followed by a digit ("No. 5", "p. 12"), a list number at
//     the start of a line or sentence ("1. Eggs"), or when the next word
//     starts with a lower-case letter ("5 p.m. today"); to decide, a full
//     stop waits for the first character of the next word;
//   - a stop followed by anything but white space never ends a sentence
//     ("3.14", "example.com"), so a chunk ending right after a stop waits;
//   - a run longer than the splitter's maximum without an end is cut at its
//     last comma, semicolon or colon, else its last white space, else a
//     rune boundary, so that speech never waits long.
//
// Flush releases the rest. Pieces with nothing to say (no letter or digit)
// are dropped. The zero value is ready to use with MaxBytes; a Splitter is
// not safe for concurrent use.
type Splitter struct {
	buf      string // unconsumed text; buf[0] is at offset base
	base     int
	scan     int // bytes of buf already known to hold no boundary
	maxBytes int // 0: MaxBytes; negative: never cut
}

// NewSplitter returns a splitter that cuts runs without a sentence end
// once they are longer than maxBytes; maxBytes <= 0 disables the cut.
func NewSplitter(maxBytes int) *Splitter {
	if maxBytes <= 0 {
		maxBytes = -1
	}
	return &Splitter{maxBytes: maxBytes}
}

// Add appends text and returns the sentences it completed, in order.
func (s *Splitter) Add(text string) []Span {
	s.buf += text
	var out []Span
	for {
		end, ok := s.nextBoundary()
		if !ok {
			return out
		}
		out = s.appendSpan(out, end)
	}
}

// Flush returns the pending text as a last sentence (none when it has
// nothing to say) and empties the buffer.
func (s *Splitter) Flush() []Span {
	if s.buf == "" {
		return nil
	}
	return s.appendSpan(nil, len(s.buf))
}

// appendSpan consumes buf[:end] and appends it as a span when it has
// something to say.
func (s *Splitter) appendSpan(out []Span, end int) []Span {
	text := strings.TrimSpace(s.buf[:end])
	if speakable(text) {
		out = append(out, Span{Text: text, Start: s.base, End: s.base + end})
	}
	s.base += end
	s.buf = s.buf[end:]
	s.scan = 0
	return out
}

// nextBoundary finds the end (exclusive, in buf) of the first complete
// sentence in buf.
func (s *Splitter) nextBoundary() (int, bool) {
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

// judgeTerminator looks at the run of terminators (and closing marks)
// starting at i. It returns the index after the run, whether the text
// present is enough to decide, and whether the run ends a sentence.
func (s *Splitter) judgeTerminator(i int) (end int, decided, boundary bool) {
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
		return j, false, false // the next character decides
	}
	next, _ := utf8.DecodeRuneInString(s.buf[j:])
	if !unicode.IsSpace(next) {
		return j, true, false // "3.5", "e.g.,", "example.com"
	}
	if others > 0 || dots > 1 {
		return j, true, true // "!", "?", "...", "…"
	}
	// A single full stop: look at the word before and the word after.
	word := s.wordBefore(i)
	if isAbbreviation(word, s.atLineStart(i)) {
		return j, true, false
	}
	for k := j; k < len(s.buf); {
		r, size := utf8.DecodeRuneInString(s.buf[k:])
		switch {
		case r == '\n':
			return j, true, true
		case !unicode.IsSpace(r):
			if unicode.IsDigit(r) && isNumberAbbreviation(word) {
				return j, true, false // "No. 5", "p. 12"
			}
			return j, true, !unicode.IsLower(r)
		}
		k += size
	}
	return j, false, false // wait for the next word
}

// cutLong cuts an over-long run at a clause break, a space or a rune
// boundary.
func (s *Splitter) cutLong() (int, bool) {
	limit := s.maxBytes
	if limit == 0 {
		limit = MaxBytes
	}
	if limit < 0 || len(s.buf) <= limit {
		return 0, false
	}
	window := s.buf[:limit]
	if k := strings.LastIndexAny(window, ",;:"); k > 0 {
		return k + 1, true
	}
	if k := strings.LastIndexFunc(window, unicode.IsSpace); k > 0 {
		_, size := utf8.DecodeRuneInString(window[k:])
		return k + size, true
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s.buf[cut]) {
		cut-- // never split a rune
	}
	if cut == 0 { // limit is shorter than the first rune
		_, cut = utf8.DecodeRuneInString(s.buf)
	}
	return cut, true
}

// wordBefore returns the word that ends at i, as written, without leading
// punctuation ("(Dr" → "Dr").
func (s *Splitter) wordBefore(i int) string {
	k := strings.LastIndexFunc(s.buf[:i], unicode.IsSpace) + 1
	return strings.TrimLeftFunc(s.buf[k:i], func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// atLineStart reports whether the word that ends at i starts a line (or
// the pending text, which starts a sentence: the same for list numbers).
func (s *Splitter) atLineStart(i int) bool {
	k := strings.LastIndexFunc(s.buf[:i], unicode.IsSpace)
	if k < 0 {
		return true
	}
	before := strings.TrimRightFunc(s.buf[:k+1], func(r rune) bool { return r == ' ' || r == '\t' })
	return before == "" || strings.HasSuffix(before, "\n")
}

// isAbbreviation reports whether a full stop after word (as written) does
// not end a sentence whatever follows.
func isAbbreviation(word string, lineStart bool) bool {
	switch strings.ToLower(word) {
	case "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "mt", "approx", "dept", "est", "inc", "ltd", "co", "corp",
		"ave", "gen", "gov", "e.g", "i.e", "cf", "al",
		"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec":
		return true
	}
	if r, size := utf8.DecodeRuneInString(word); size == len(word) && unicode.IsUpper(r) && r != 'I' {
		return true // an initial: "J. Smith"; "I." ends "So do I."
	}
	if lineStart && word != "" && strings.IndexFunc(word, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		return true // a list number: "1. Eggs"
	}
	// Dotted abbreviations such as "p.m" or "U.S" are decided by the next
	// word's case.
	return false
}

// isNumberAbbreviation reports whether word is an abbreviation that does
// not end a sentence when a number follows: "See No. 5" goes on, "I said
// no. Then" ends.
func isNumberAbbreviation(word string) bool {
	switch strings.ToLower(word) {
	case "no", "nos", "fig", "vol", "ch", "p", "pp", "art", "sec":
		return true
	}
	return false
}

// isTerminator reports whether r can end a sentence.
func isTerminator(r rune) bool {
	return r == '.' || r == '!' || r == '?' || r == '…'
}

// isCloser reports whether r is a closing quote or bracket, which stays
// with the sentence it follows.
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
