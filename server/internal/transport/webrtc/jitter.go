package webrtc

// maxSeqJump is the largest forward jump in RTP sequence numbers treated as
// loss; a larger jump (a sender restart) resynchronises the buffer.
const maxSeqJump = 100

// jitterBuffer puts RTP payloads back in sequence-number order. It holds at
// most depth packets waiting for a missing one; when more arrive, the
// missing packet is declared lost. Late packets (behind what was already
// played) and duplicates are dropped. A packet that arrives in order while
// nothing is held is emitted straight from the caller's buffer; a held one
// is copied into a buffer of the jitter buffer's own (reused), so the
// caller may reuse its read buffer after push. Not safe for concurrent use.
type jitterBuffer struct {
	depth   int
	started bool
	next    uint16
	held    map[uint16][]byte
	// spare are payload buffers of emitted held packets, for reuse.
	spare [][]byte

	late, dup, lost uint64
}

func newJitterBuffer(depth int) *jitterBuffer {
	return &jitterBuffer{depth: depth, held: make(map[uint16][]byte, depth+1)}
}

// jitterOut receives the buffer's output in order: a payload, or a lost
// packet (payload nil) with the following payload if already held (for FEC).
// The slices are valid only during the call.
type jitterOut func(payload []byte, lost bool, next []byte)

// push adds one packet and emits everything now in order.
func (j *jitterBuffer) push(seq uint16, payload []byte, emit jitterOut) {
	if !j.started {
		j.started, j.next = true, seq
	}
	d := int16(seq - j.next)
	switch {
	case d < 0 && int(-d) <= maxSeqJump:
		j.late++
		return
	case d < 0 || int(d) > maxSeqJump:
		// A sender restart or a huge gap: start over from this packet.
		for s, p := range j.held {
			j.spare = append(j.spare, p)
			delete(j.held, s)
		}
		j.next = seq
	}
	if d == 0 && len(j.held) == 0 {
		// The usual case: in order, nothing waiting.
		j.next++
		emit(payload, false, nil)
		return
	}
	if _, ok := j.held[seq]; ok {
		j.dup++
		return
	}
	j.held[seq] = append(j.buffer(), payload...)
	for {
		if p, ok := j.held[j.next]; ok {
			delete(j.held, j.next)
			j.next++
			emit(p, false, nil)
			j.spare = append(j.spare, p)
			continue
		}
		if len(j.held) <= j.depth {
			return
		}
		j.lost++
		next := j.held[j.next+1]
		j.next++
		emit(nil, true, next)
	}
}

// buffer returns an empty payload buffer, reused when one is spare.
func (j *jitterBuffer) buffer() []byte {
	if n := len(j.spare); n > 0 {
		b := j.spare[n-1][:0]
		j.spare = j.spare[:n-1]
		return b
	}
	return nil
}
