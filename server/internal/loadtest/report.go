package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report is the result of a run (one step) or a ramp (one step per size).
type Report struct {
	Mode           string  `json:"mode"`
	URL            string  `json:"url"`
	Transport      string  `json:"transport"`
	SpeechSeconds  float64 `json:"speech_seconds"`
	GapSeconds     float64 `json:"gap_seconds"`
	StaggerSeconds float64 `json:"stagger_seconds"`
	MaxP99MS       float64 `json:"max_p99_ms,omitempty"`
	MaxLate        float64 `json:"max_late"`
	Steps          []Step  `json:"steps"`
	// Knee is the largest ramp step that crossed no threshold (0: none).
	Knee int `json:"knee_sessions"`
	// StopReason is why the test ended: duration, threshold,
	// max-sessions or interrupted.
	StopReason string `json:"stop_reason"`
	// OK: a run with no failed session and no threshold crossed, or a
	// ramp that found a knee.
	OK bool `json:"ok"`
}

// Step is what one window measured.
type Step struct {
	// Sessions is the number of callers planned; Live those connected at
	// the end of the window.
	Sessions       int      `json:"sessions"`
	Live           int      `json:"live"`
	Seconds        float64  `json:"seconds"`
	SessionsOK     int      `json:"sessions_ok"`
	SessionsFailed int      `json:"sessions_failed"`
	Failures       []string `json:"failures,omitempty"`

	// Turns are the questions that ended in the window: Answered (agent
	// audio came back), Unrecognized (empty final transcript), TimedOut.
	Turns        int `json:"turns"`
	Answered     int `json:"turns_answered"`
	Unrecognized int `json:"turns_unrecognized"`
	TimedOut     int `json:"turns_timed_out"`
	// Pending questions were still waiting at the end; PendingCounted of
	// them waited longer than any answered turn and count in VoiceToVoice.
	Pending        int `json:"turns_pending"`
	PendingCounted int `json:"turns_pending_counted"`

	// VoiceToVoice is measured by the client: the end of the question's
	// audio sent → the first agent audio frame received.
	VoiceToVoice Latency `json:"voice_to_voice"`
	// ServerVoiceToVoice is the server's own figure (metrics events):
	// its end of speech → its first audio frame out.
	ServerVoiceToVoice Latency `json:"server_voice_to_voice"`

	ClientFrames int64 `json:"client_frames"`
	// ClientLate: frames the client sent more than one frame after due.
	ClientLate   int64 `json:"client_late_frames"`
	ServerFrames int64 `json:"server_frames"`
	// ServerLate: agent frames that arrived after the audio before them had
	// played out by more than one frame (a gap a listener hears).
	ServerLate int64 `json:"server_late_frames"`
	// ServerGaps: such frames that started a new talk spurt (WebRTC's
	// marker bit): the server had no audio to send before them — the
	// reply's next audio was not ready (TTS or LLM slower than playback),
	// not a packet sent late.
	ServerGaps   int64   `json:"server_gap_frames"`
	LateFraction float64 `json:"late_fraction"`
	ServerErrors int64   `json:"server_errors"`

	// ClientCPU is this load tester's CPU, % of one core.
	ClientCPU float64   `json:"client_cpu_pct"`
	Processes []Process `json:"processes,omitempty"`
	// CPU and RSS are the sums over Processes; per session divides CPU,
	// and RSS growth since before the first caller, by Live.
	CPU           float64 `json:"cpu_pct,omitempty"`
	CPUPerSession float64 `json:"cpu_pct_per_session,omitempty"`
	RSS           int64   `json:"rss_bytes,omitempty"`
	RSSPerSession int64   `json:"rss_bytes_per_session,omitempty"`
	ProcError     string  `json:"proc_error,omitempty"`

	// Crossed lists the thresholds this window crossed.
	Crossed []string `json:"crossed,omitempty"`
}

// Process is one sampled process over a window.
type Process struct {
	PID int `json:"pid"`
	// CPU is % of one core over the window.
	CPU float64 `json:"cpu_pct"`
	// RSS at the end of the window, bytes.
	RSS int64 `json:"rss_bytes"`
}

// mib is the unit of RSS in the table.
const mib = 1 << 20

// WriteTable writes the human report.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "sessions\tok\tfailed\tturns\tanswered\tv2v p50\tp90\tp99\tserver p50\tlate client\tlate server\tgaps\tclient CPU%%\tCPU%%/session\tRSS MiB/session\t\n")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%d/%d\t%d/%d\t%d\t%.1f\t%.2f\t%.2f\t\n",
			s.Sessions, s.SessionsOK, s.SessionsFailed, s.Turns, s.Answered,
			s.VoiceToVoice.P50, s.VoiceToVoice.P90, s.VoiceToVoice.P99, s.ServerVoiceToVoice.P50,
			s.ClientLate, s.ClientFrames, s.ServerLate, s.ServerFrames, s.ServerGaps,
			s.ClientCPU, s.CPUPerSession, float64(s.RSSPerSession)/mib)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var b strings.Builder
	b.WriteString("(latencies in ms; late = frames late/all; gaps = agent audio not ready inside a reply; CPU % of one core)\n")
	for _, s := range r.Steps {
		for _, f := range s.Failures {
			fmt.Fprintf(&b, "%d sessions: failure: %s\n", s.Sessions, f)
		}
		for _, c := range s.Crossed {
			fmt.Fprintf(&b, "%d sessions: crossed: %s\n", s.Sessions, c)
		}
		if s.TimedOut > 0 || s.Unrecognized > 0 || s.ServerErrors > 0 {
			fmt.Fprintf(&b, "%d sessions: %d turns timed out, %d unrecognized, %d error events from the server\n",
				s.Sessions, s.TimedOut, s.Unrecognized, s.ServerErrors)
		}
		if s.ProcError != "" {
			fmt.Fprintf(&b, "%d sessions: process sampling: %s\n", s.Sessions, s.ProcError)
		}
		for _, p := range s.Processes {
			fmt.Fprintf(&b, "%d sessions: pid %d: %.1f%% CPU, %.1f MiB RSS\n", s.Sessions, p.PID, p.CPU, float64(p.RSS)/mib)
		}
	}
	if r.Mode == ModeRamp {
		if r.Knee > 0 {
			fmt.Fprintf(&b, "this box holds ~%d sessions with this config (stopped: %s)\n", r.Knee, r.StopReason)
		} else {
			fmt.Fprintf(&b, "no step passed: this box holds fewer than %d sessions with this config\n", r.Steps[0].Sessions)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteJSON writes the report as one JSON object on one line.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
