package loadtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
)

func TestValidate(t *testing.T) {
	good := func() Config {
		return Config{
			URL: DefaultURL, Speech: Question(), Sessions: 10, Duration: time.Minute, Gap: DefaultGap,
			Stagger: DefaultStagger, TurnTimeout: DefaultTurnTimeout, MaxLate: -1,
			Step: DefaultStep, StepDuration: DefaultStepDuration, MaxSessions: DefaultMaxSessions,
		}
	}
	tests := []struct {
		name string
		edit func(*Config)
		flag string // empty: valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"ramp defaults", func(c *Config) { c.Ramp = true }, ""},
		{"bad url", func(c *Config) { c.URL = "ftp://x" }, "--url"},
		{"no speech", func(c *Config) { c.Speech = nil }, "--wav"},
		{"too many sessions", func(c *Config) { c.Sessions = MaxSessions + 1 }, "--sessions"},
		{"no sessions", func(c *Config) { c.Sessions = 0 }, "--sessions"},
		{"too long", func(c *Config) { c.Duration = 2 * time.Hour }, "--duration"},
		{"stagger beyond the run", func(c *Config) { c.Stagger = 10 * time.Second }, "--stagger"},
		{"ramp too long", func(c *Config) { c.Ramp, c.MaxSessions, c.Step, c.StepDuration = true, 1000, 1, time.Minute }, "--step-duration"},
		{"ramp max below start", func(c *Config) { c.Ramp, c.MaxSessions = true, 5 }, "--max-sessions"},
		{"ramp ceiling", func(c *Config) { c.Ramp, c.MaxSessions = true, MaxSessions+1 }, "--max-sessions"},
		{"bad pid", func(c *Config) { c.PIDs = []int{-3} }, "--pid"},
		{"late over 1", func(c *Config) { c.MaxLate = 2 }, "--max-late"},
		{"webrtc", func(c *Config) { c.Transport = TransportWebRTC }, ""},
		{"unknown transport", func(c *Config) { c.Transport = "sip" }, "--transport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.edit(&c)
			err := c.Validate()
			if tt.flag == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.flag)
		})
	}

	c := good()
	c.Ramp = true
	require.NoError(t, c.Validate())
	assert.Equal(t, DefaultRampMaxP99, c.MaxP99, "a ramp without thresholds gets the defaults")
	assert.InDelta(t, DefaultRampMaxLate, c.MaxLate, 1e-12)
	assert.Equal(t, TransportWS, c.Transport, "ws by default")
}

// TestOpusFrames: the question becomes one 20 ms Opus packet per 20 ms of
// audio (rounded up), and silence one packet.
func TestOpusFrames(t *testing.T) {
	q := Question()
	f, err := opusFrames(q)
	require.NoError(t, err)
	assert.Len(t, f.question, (len(q)+audio.FrameSamples-1)/audio.FrameSamples)
	assert.NotEmpty(t, f.silence)
	for _, p := range f.question {
		assert.NotEmpty(t, p)
	}
}

func TestQuestion(t *testing.T) {
	q := Question()
	assert.Len(t, q, (3*380+2*90)*16)
	assert.Equal(t, q, Question(), "deterministic")
	var peak int16
	for _, v := range q {
		peak = max(peak, v, -v)
	}
	assert.Greater(t, peak, int16(4000), "loud enough to be speech")
}
