package session

import "github.com/parleyhq/parley/sdk/sentence"

// maxSentenceBytes forces a cut in text without sentence punctuation, so
// TTS latency stays bounded.
const maxSentenceBytes = 240

// SentenceSplitter cuts streamed LLM text into sentences for TTS with
// sdk/sentence's rules. Sentences are returned verbatim, white space
// included, so that their concatenation is exactly the input and the TTS
// stream's text offsets are offsets into the response text.
type SentenceSplitter struct {
	split   *sentence.Splitter
	pending string // text not returned yet; pending[0] is at offset base
	base    int
}

// Push adds a delta and returns the sentences it completed. Text that has
// nothing to say (white space, lone punctuation) is carried into the next
// sentence rather than dropped.
func (s *SentenceSplitter) Push(delta string) []string {
	if s.split == nil {
		s.split = sentence.NewSplitter(maxSentenceBytes)
	}
	s.pending += delta
	var out []string
	for _, sp := range s.split.Add(delta) {
		out = append(out, s.take(sp.End))
	}
	return out
}

// Flush returns the buffered rest verbatim (possibly empty).
func (s *SentenceSplitter) Flush() string {
	if s.split != nil {
		s.split.Flush()
	}
	return s.take(s.base + len(s.pending))
}

// take removes and returns the pending text up to stream offset end.
func (s *SentenceSplitter) take(end int) string {
	n := end - s.base
	piece := s.pending[:n]
	s.pending = s.pending[n:]
	s.base = end
	return piece
}

// isSpace reports whether c is ASCII white space.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
