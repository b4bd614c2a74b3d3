package loadtest

import (
	"fmt"
	"net/url"
	"time"
)

// Hard limits: a load test is bounded by design, whatever the flags say.
const (
	// MaxSessions bounds concurrent simulated callers (also in a ramp).
	MaxSessions = 1000
	// MaxDuration bounds a run, and a whole ramp.
	MaxDuration = time.Hour
	// MaxStepDuration bounds one ramp step.
	MaxStepDuration = 10 * time.Minute
	// MaxPIDs bounds how many processes are sampled.
	MaxPIDs = 64
	// maxSpeech bounds one question's audio.
	maxSpeech = time.Minute
	// maxGap bounds the pause between questions and the stagger.
	maxGap = time.Minute
	// maxTurnTimeout bounds how long a caller waits for an answer.
	maxTurnTimeout = 5 * time.Minute
	// minWindow is the shortest run or step that can measure a turn.
	minWindow = time.Second
)

// Defaults the command line starts from.
const (
	DefaultURL          = "http://127.0.0.1:8080"
	DefaultTransport    = TransportWS
	DefaultSessions     = 10
	DefaultDuration     = 60 * time.Second
	DefaultGap          = 3 * time.Second
	DefaultStagger      = 100 * time.Millisecond
	DefaultTurnTimeout  = 15 * time.Second
	DefaultStep         = 10
	DefaultStepDuration = 30 * time.Second
	DefaultMaxSessions  = 200
	// DefaultRampMaxP99 is the ramp's voice-to-voice p99 threshold when
	// neither threshold is given.
	DefaultRampMaxP99 = 2 * time.Second
	// DefaultRampMaxLate is the ramp's late-frame threshold (a fraction of
	// all frames) when neither threshold is given.
	DefaultRampMaxLate = 0.01
)

// Config is one load test.
type Config struct {
	// URL is the server's base URL (http or https); callers connect to
	// its /ws/voice, or post WebRTC offers to its /v1/webrtc/offer.
	URL string
	// Transport is TransportWS (the default when empty) or TransportWebRTC.
	Transport string
	// Token is an API key or client token, sent as Authorization: Bearer.
	Token string
	// AllowRemote allows a target that is not loopback.
	AllowRemote bool

	// Speech is one question, 16 kHz mono PCM16, spoken again and again.
	Speech []int16
	// Sessions is the number of callers of a run, or the first step of a ramp.
	Sessions int
	// Duration of a run (ignored by a ramp).
	Duration time.Duration
	// Gap is the silence a caller streams after an answer before the next question.
	Gap time.Duration
	// Stagger is the delay between the starts of two callers.
	Stagger time.Duration
	// TurnTimeout is how long a caller waits for an answer after its
	// question before it counts the turn unanswered and asks again.
	TurnTimeout time.Duration

	// Ramp adds Step callers every StepDuration, starting from Sessions,
	// until a threshold is crossed or MaxSessions would be exceeded.
	Ramp         bool
	Step         int
	StepDuration time.Duration
	MaxSessions  int

	// MaxP99 is the voice-to-voice p99 threshold (0: none).
	MaxP99 time.Duration
	// MaxLate is the threshold on late frames, as a fraction of all frames
	// sent and received in a window (negative: none).
	MaxLate float64

	// PIDs are processes (the server, its plugins) whose CPU and RSS are
	// sampled from /proc.
	PIDs []int
}

// check is one bound of Validate.
type check struct {
	flag string
	v    any
	bad  bool
	want string
}

func invalid(flag string, v any, want string) error {
	return fmt.Errorf("%w: --%s %v: %s", ErrInvalidConfig, flag, v, want)
}

// Validate checks every bound; a ramp without thresholds gets the default ones.
func (c *Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return invalid("url", c.URL, "want http://host:port or https://host:port")
	}
	if c.Transport == "" {
		c.Transport = TransportWS
	}
	checks := []check{
		{"transport", c.Transport, c.Transport != TransportWS && c.Transport != TransportWebRTC, "want ws or webrtc"},
		{"wav", len(c.Speech), len(c.Speech) == 0 || len(c.Speech) > int(maxSpeech/time.Millisecond)*samplesPerMS, "want 20 ms to 1 min of audio"},
		{"sessions", c.Sessions, c.Sessions < 1 || c.Sessions > MaxSessions, fmt.Sprintf("want 1 to %d", MaxSessions)},
		{"gap", c.Gap, c.Gap < 0 || c.Gap > maxGap, "want 0 to 1m"},
		{"stagger", c.Stagger, c.Stagger < 0 || c.Stagger > maxGap, "want 0 to 1m"},
		{"turn-timeout", c.TurnTimeout, c.TurnTimeout < minWindow || c.TurnTimeout > maxTurnTimeout, "want 1s to 5m"},
		{"max-p99", c.MaxP99, c.MaxP99 < 0, "want 0 (none) or more"},
		{"pid", len(c.PIDs), len(c.PIDs) > MaxPIDs, fmt.Sprintf("want at most %d processes", MaxPIDs)},
		{"max-late", c.MaxLate, c.MaxLate > 1, "want a fraction of frames (0.01 = 1 %) or negative (none)"},
	}
	if c.Ramp {
		steps := 1
		if c.Step > 0 {
			steps += (c.MaxSessions - c.Sessions) / c.Step
		}
		checks = append(checks, []check{
			{"step", c.Step, c.Step < 1 || c.Step > MaxSessions, fmt.Sprintf("want 1 to %d", MaxSessions)},
			{"step-duration", c.StepDuration, c.StepDuration < minWindow || c.StepDuration > MaxStepDuration, "want 1s to 10m"},
			{"max-sessions", c.MaxSessions, c.MaxSessions < c.Sessions || c.MaxSessions > MaxSessions, fmt.Sprintf("want --sessions to %d", MaxSessions)},
			{"step-duration", c.StepDuration, time.Duration(steps)*c.StepDuration > MaxDuration, "the whole ramp must fit in 1h"},
			{"stagger", c.Stagger, time.Duration(max(c.Sessions, c.Step)-1)*c.Stagger >= c.StepDuration, "every caller of a step must start within the step"},
		}...)
	} else {
		checks = append(checks,
			check{"duration", c.Duration, c.Duration < minWindow || c.Duration > MaxDuration, "want 1s to 1h"},
			check{"stagger", c.Stagger, time.Duration(c.Sessions-1)*c.Stagger >= c.Duration, "every caller must start within --duration"})
	}
	for _, ch := range checks {
		if ch.bad {
			return invalid(ch.flag, ch.v, ch.want)
		}
	}
	for _, p := range c.PIDs {
		if p <= 0 {
			return invalid("pid", p, "want process ids")
		}
	}
	if c.Ramp && c.MaxP99 == 0 && c.MaxLate < 0 {
		c.MaxP99, c.MaxLate = DefaultRampMaxP99, DefaultRampMaxLate
	}
	return nil
}
