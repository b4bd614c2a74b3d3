package loadtest

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of values by the
// nearest-rank method: the smallest value with at least p % of the values
// at or below it. values need not be sorted (they are not modified); it
// returns 0 for no values.
func Percentile(values []time.Duration, p float64) time.Duration {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	return percentileSorted(s, p)
}

func percentileSorted(s []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = max(1, min(rank, len(s)))
	return s[rank-1]
}

// Latency summarises latencies in milliseconds.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// percentile ranks reported.
const (
	p50 = 50
	p90 = 90
	p99 = 99
)

func summarise(values []time.Duration) Latency {
	if len(values) == 0 {
		return Latency{}
	}
	s := slices.Clone(values)
	slices.Sort(s)
	return Latency{
		N: len(s), P50: ms(percentileSorted(s, p50)), P90: ms(percentileSorted(s, p90)),
		P99: ms(percentileSorted(s, p99)), Max: ms(s[len(s)-1]),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
