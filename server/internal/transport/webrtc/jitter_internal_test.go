package webrtc

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// out records what a jitter buffer emitted: "pN" for packet N, "lost(fN)"
// for a loss with packet N available for FEC, "lost" without.
func runJitter(depth int, seqs []uint16) ([]string, *jitterBuffer) {
	j := newJitterBuffer(depth)
	var out []string
	for _, s := range seqs {
		j.push(s, fmt.Appendf(nil, "p%d", s), func(p []byte, lost bool, next []byte) {
			switch {
			case !lost:
				out = append(out, string(p))
			case next != nil:
				out = append(out, "lost(f"+string(next[1:])+")")
			default:
				out = append(out, "lost")
			}
		})
	}
	return out, j
}

func TestJitterBuffer(t *testing.T) {
	cases := []struct {
		name            string
		depth           int
		seqs            []uint16
		want            []string
		late, dup, lost uint64
	}{
		{name: "in order", depth: 2, seqs: []uint16{1, 2, 3}, want: []string{"p1", "p2", "p3"}},
		{name: "swap", depth: 2, seqs: []uint16{1, 3, 2, 4}, want: []string{"p1", "p2", "p3", "p4"}},
		{name: "loss with fec source", depth: 2, seqs: []uint16{1, 3, 4, 5}, want: []string{"p1", "lost(f3)", "p3", "p4", "p5"}, lost: 1},
		{name: "burst loss", depth: 1, seqs: []uint16{1, 4, 5}, want: []string{"p1", "lost", "lost(f4)", "p4", "p5"}, lost: 2},
		{name: "late after loss", depth: 1, seqs: []uint16{1, 3, 4, 2}, want: []string{"p1", "lost(f3)", "p3", "p4"}, lost: 1, late: 1},
		{name: "duplicate held", depth: 2, seqs: []uint16{1, 3, 3, 2}, want: []string{"p1", "p2", "p3"}, dup: 1},
		{name: "duplicate played", depth: 2, seqs: []uint16{1, 2, 2, 3}, want: []string{"p1", "p2", "p3"}, late: 1},
		{name: "wraparound", depth: 2, seqs: []uint16{65534, 65535, 0, 1}, want: []string{"p65534", "p65535", "p0", "p1"}},
		{name: "sender restart", depth: 2, seqs: []uint16{10, 11, 5000, 5001}, want: []string{"p10", "p11", "p5000", "p5001"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, j := runJitter(c.depth, c.seqs)
			assert.Equal(t, c.want, got)
			assert.Equal(t, c.late, j.late, "late")
			assert.Equal(t, c.dup, j.dup, "dup")
			assert.Equal(t, c.lost, j.lost, "lost")
		})
	}
}
