package webrtc

// maxSeqJump is the largest forward jump in RTP sequence numbers treated as
// loss; a larger jump (a sender restart) resynchronises the buffer.
const maxSeqJump = 100

// jitterBuffer puts RTP payloads back in sequence-number order. It holds at
// most depth packets waiting for a missing one; when more arrive, the
// missing packet is declared lost. Late packets (behind what was already
// played) and duplicates are dropped. Not safe for concurrent use.
type jitterBuffer struct {
	depth   int
	started bool
	next    uint16
	held    map[uint16][]byte

	late, dup, lost uint64
}

func newJitterBuffer(depth int) *jitterBuffer {
	return &jitterBuffer{depth: depth, held: make(map[uint16][]byte, depth+1)}
}

// jitterOut receives the buffer's output in order: a payload, or a lost
// packet (payload nil) with the following payload if already held (for FEC).
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
		clear(j.held)
		j.next = seq
	}
	if _, ok := j.held[seq]; ok {
		j.dup++
		return
	}
	j.held[seq] = payload
	for {
		if p, ok := j.held[j.next]; ok {
			delete(j.held, j.next)
			j.next++
			emit(p, false, nil)
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
