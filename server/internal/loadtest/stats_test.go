package loadtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	ten := []time.Duration{10, 3, 7, 1, 9, 2, 8, 4, 6, 5} // 1..10, shuffled
	tests := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{42}, 99, 42},
		{"p50 of 1..10", ten, 50, 5},
		{"p90 of 1..10", ten, 90, 9},
		{"p99 of 1..10", ten, 99, 10},
		{"p100 of 1..10", ten, 100, 10},
		{"p10 of 1..10", ten, 10, 1},
		{"p11 of 1..10 rounds up", ten, 11, 2},
		{"tiny p is the minimum", ten, 0.001, 1},
		{"p99 of 1..200 is the 198th", seq(200), 99, 198},
		{"p50 of 1..200 is the 100th", seq(200), 50, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Percentile(tt.values, tt.p))
		})
	}
	assert.Equal(t, time.Duration(10), ten[0], "the input is not sorted in place")
}

func seq(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[n-1-i] = time.Duration(i + 1)
	}
	return out
}

func TestSummarise(t *testing.T) {
	v := make([]time.Duration, 0, 100)
	for i := range 100 {
		v = append(v, time.Duration(i+1)*time.Millisecond)
	}
	assert.Equal(t, Latency{N: 100, P50: 50, P90: 90, P99: 99, Max: 100}, summarise(v))
	assert.Equal(t, Latency{}, summarise(nil))
}

// TestPlayout: frames of 20 ms arriving on time or early are never late; a
// stall longer than one frame beyond the audio received is late once,
// and playout restarts from it.
func TestPlayout(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const f = 20 * time.Millisecond
	p := playout{margin: f}
	at := func(d time.Duration) bool { return p.frame(t0.Add(d), f) }
	assert.False(t, at(0), "first frame")
	assert.False(t, at(20*time.Millisecond))
	assert.False(t, at(21*time.Millisecond), "early burst: 60 ms buffered")
	assert.False(t, at(22*time.Millisecond))
	assert.False(t, at(100*time.Millisecond), "due at 80 ms, 20 ms late is within one frame")
	assert.True(t, at(200*time.Millisecond), "due at 100 ms: a 100 ms gap")
	assert.False(t, at(220*time.Millisecond), "playout restarted at the late frame")
	assert.False(t, at(240*time.Millisecond))
	p.on = false // a new response
	assert.False(t, at(time.Second))

	// WebRTC allows a frame plus rtcJitterMargin.
	p = playout{margin: (&rtcTransport{}).lateMargin()}
	assert.False(t, at(0))
	assert.False(t, at(55*time.Millisecond), "due at 20 ms, 35 ms late is within a frame and the jitter margin")
	assert.True(t, at(120*time.Millisecond), "due at 75 ms: 45 ms late")
}

// TestPlayoutClasses: a frame that leaves a gap is late inside a talk
// spurt and a gap (the server had nothing to send) when it starts one.
func TestPlayoutClasses(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const f = 20 * time.Millisecond
	p := playout{margin: f}
	msg := func(d time.Duration, spurt bool) message {
		return message{at: t0.Add(d), audio: true, d: f, spurt: spurt}
	}
	assert.Equal(t, onTime, p.agent(msg(0, true)), "a reply's first frame")
	assert.Equal(t, onTime, p.agent(msg(20*time.Millisecond, false)))
	assert.Equal(t, late, p.agent(msg(200*time.Millisecond, false)), "a stall inside the spurt")
	assert.Equal(t, onTime, p.agent(msg(220*time.Millisecond, false)))
	assert.Equal(t, gap, p.agent(msg(time.Second, true)), "the next sentence's spurt after a pause")
	assert.Equal(t, onTime, p.agent(msg(time.Second+20*time.Millisecond, true)), "a spurt start on time is no gap")
}

// TestTurnState: a question is answered by its first audio frame (later
// frames and the end of the reply record nothing more); one that ends
// without audio is recorded with the outcome given; stalls count from the
// question, then from the last frame.
func TestTurnState(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var s turnState
	_, ok := s.audio(t0)
	assert.False(t, ok, "no question open")

	s.ask(t0)
	assert.True(t, s.isOpen())
	w, ok := s.waitingFor(t0.Add(300 * time.Millisecond))
	assert.True(t, ok)
	assert.Equal(t, 300*time.Millisecond, w)
	assert.False(t, s.stalled(t0.Add(time.Second), time.Second))
	assert.True(t, s.stalled(t0.Add(1001*time.Millisecond), time.Second))
	r, ok := s.audio(t0.Add(700 * time.Millisecond))
	require.True(t, ok)
	assert.Equal(t, turnRecord{at: t0.Add(700 * time.Millisecond), outcome: answered, v2v: 700 * time.Millisecond}, r)
	_, ok = s.waitingFor(t0.Add(time.Second))
	assert.False(t, ok, "answered: no longer waiting")
	_, ok = s.audio(t0.Add(2 * time.Second))
	assert.False(t, ok, "only the first frame answers")
	assert.False(t, s.stalled(t0.Add(2500*time.Millisecond), time.Second), "stalls count from the last frame")
	_, ok = s.end(t0.Add(3*time.Second), timedOut)
	assert.False(t, ok, "an answered question records nothing at its end")
	assert.False(t, s.isOpen())

	s.ask(t0.Add(10 * time.Second))
	r, ok = s.end(t0.Add(11*time.Second), unrecognized)
	require.True(t, ok)
	assert.Equal(t, unrecognized, r.outcome)
	_, ok = s.end(t0.Add(12*time.Second), timedOut)
	assert.False(t, ok, "ended once")
}
