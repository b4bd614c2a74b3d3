package plugintest

import "strings"

// WordErrors returns the word-level edit distance between a reference and
// a hypothesis, and the reference's word count.
func WordErrors(ref, hyp string) (errs, words int) {
	r, h := strings.Fields(strings.ToLower(ref)), strings.Fields(strings.ToLower(hyp))
	prev := make([]int, len(h)+1)
	cur := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			sub := prev[j-1]
			if r[i-1] != h[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(h)], len(r)
}
