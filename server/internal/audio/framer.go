package audio

// Framer cuts a stream of samples at SampleRate into whole 20 ms frames.
// The zero value is ready to use.
type Framer struct {
	buf Frame
	n   int
}

// Push appends samples and calls emit for each complete frame. The *Frame
// passed to emit is only valid during the call; copy it to keep it.
func (f *Framer) Push(s []int16, emit func(*Frame)) {
	for len(s) > 0 {
		if f.n == 0 && len(s) >= FrameSamples {
			// Whole frames straight from the input, no buffering.
			fr := (*Frame)(s[:FrameSamples])
			emit(fr)
			s = s[FrameSamples:]
			continue
		}
		c := copy(f.buf[f.n:], s)
		f.n += c
		s = s[c:]
		if f.n == FrameSamples {
			emit(&f.buf)
			f.n = 0
		}
	}
}

// Pending is the number of buffered samples that do not yet fill a frame.
func (f *Framer) Pending() int { return f.n }

// Reset drops buffered samples.
func (f *Framer) Reset() { f.n = 0 }
