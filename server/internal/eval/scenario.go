// Package eval runs scripted conversations against a Parley server over
// /ws/voice and checks what came back: `parley eval`. A scenario is a
// YAML file (configs/evals/scenario.schema.json); each user turn is a WAV
// file, a text spoken by a TTS plugin, or typed text, optionally spoken
// over the agent's previous reply; each turn may expect things of the
// transcript, the reply, the tool calls, the interruption and the
// voice-to-voice time.
package eval

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrScenario marks a scenario file that cannot be used; the message names
// the file and the field.
var ErrScenario = errors.New("eval: bad scenario")

// maxScenarioBytes bounds one scenario file.
const maxScenarioBytes = 1 << 20

// Scenario is one scripted conversation: a fresh session, its settings,
// then the turns in order.
type Scenario struct {
	// Name identifies the scenario in reports (default: the file name).
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Session is sent as the first session.update.
	Session Settings `yaml:"session"`
	// Tools are client-side tools offered to the model; ToolResults answer
	// their calls by name (a turn's own ToolResults win).
	Tools       []ClientTool   `yaml:"tools"`
	ToolResults map[string]any `yaml:"tool_results"`
	// Replay takes the user turns from a call recording (the path of its
	// .wav, relative to the scenario file; the .jsonl beside it gives the
	// turns): each turn's stretch of the user channel is spoken in turn.
	// Turns then give only expectations, by index, and may be fewer.
	Replay string `yaml:"replay"`
	Turns  []Turn `yaml:"turns"`

	// File is where the scenario was read from.
	File string `yaml:"-"`
}

// Settings are the session.update fields a scenario may set.
type Settings struct {
	SystemPrompt string `yaml:"system_prompt" json:"system_prompt,omitempty"`
	Voice        string `yaml:"voice" json:"voice,omitempty"`
	Language     string `yaml:"language" json:"language,omitempty"`
}

// ClientTool is a tool the client offers and answers.
type ClientTool struct {
	Name        string         `yaml:"name" json:"name"`
	Description string         `yaml:"description" json:"description,omitempty"`
	Parameters  map[string]any `yaml:"parameters" json:"parameters,omitempty"`
}

// Turn is one user turn: exactly one of Say, WAV and Text (none in a
// replayed scenario).
type Turn struct {
	// Say is spoken by the eval's TTS plugin at 16 kHz.
	Say string `yaml:"say"`
	// WAV is a PCM16 WAV file (any rate, mono or stereo), relative to the
	// scenario file.
	WAV string `yaml:"wav"`
	// Text is typed (input.text): no speech, no STT.
	Text string `yaml:"text"`
	// InterruptAfter starts this turn once the previous reply has sent
	// this much audio, over it (a barge-in), instead of after it ends.
	InterruptAfter Duration `yaml:"interrupt_after"`
	// Timeout bounds the wait for this turn's reply (default the runner's).
	Timeout     Duration       `yaml:"timeout"`
	ToolResults map[string]any `yaml:"tool_results"`
	Expect      Expect         `yaml:"expect"`

	audio    []int16 // the samples to send, loaded before the run
	replayed string  // a replayed turn's transcript in the recording
}

// Expect is what a turn must produce. Every field is optional; an error
// event fails the turn unless its code is in AllowErrors.
type Expect struct {
	// Transcript is checked against the user's final transcripts of the
	// turn (the typed text for a Text turn).
	Transcript *TextExpect `yaml:"transcript"`
	// Reply is checked against what the agent said: response.done's text,
	// or what had been played when it was interrupted.
	Reply *TextExpect `yaml:"reply"`
	// ToolCalls must each be among the turn's tool calls; arguments are
	// compared as a subset (only the keys given).
	ToolCalls []ToolCallExpect `yaml:"tool_calls"`
	// Interrupted: whether the reply must be cut by the user (barge-in or
	// new input).
	Interrupted *bool `yaml:"interrupted"`
	// MaxVoiceToVoice bounds the server's voice_to_voice_ms of the reply.
	MaxVoiceToVoice Duration `yaml:"max_voice_to_voice"`
	AllowErrors     []string `yaml:"allow_errors"`
}

// TextExpect tests a text: each Contains substring present and each
// NotContains absent (both ignoring case), Matches a Go regular
// expression that must match.
type TextExpect struct {
	Contains    []string `yaml:"contains"`
	NotContains []string `yaml:"not_contains"`
	Matches     string   `yaml:"matches"`

	re *regexp.Regexp
}

// ToolCallExpect names a tool call and, optionally, arguments it carries
// and who ran it (client or server).
type ToolCallExpect struct {
	Name      string         `yaml:"name"`
	Arguments map[string]any `yaml:"arguments"`
	Location  string         `yaml:"location"`
}

// Duration is a time.Duration written as "1.5s" or "800ms".
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("a duration such as \"1.5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as \"1.5s\"", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Load reads the scenarios at paths: files, or folders whose .yaml/.yml
// files are read in name order (sub-folders included). WAV files and
// recordings are read too, so a missing one fails here, not mid-run.
func Load(paths ...string) ([]*Scenario, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrScenario, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrScenario, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%w: %s holds no .yaml scenario", ErrScenario, p)
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	out := make([]*Scenario, 0, len(files))
	for _, f := range files {
		sc, err := LoadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// LoadFile reads and checks one scenario file.
func LoadFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if len(data) > maxScenarioBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrScenario, path, maxScenarioBytes)
	}
	sc, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrScenario, path, err)
	}
	sc.File = path
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if err := sc.loadAudio(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrScenario, path, err)
	}
	return sc, nil
}

// Parse decodes a scenario strictly (unknown keys are errors) and checks
// it; file references are not read.
func Parse(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		return nil, err
	}
	if err := sc.check(); err != nil {
		return nil, err
	}
	return &sc, nil
}

func (sc *Scenario) check() error {
	if len(sc.Turns) == 0 && sc.Replay == "" {
		return errors.New("turns: at least one turn is needed")
	}
	for _, tool := range sc.Tools {
		if tool.Name == "" {
			return errors.New("tools: every tool needs a name")
		}
	}
	for i := range sc.Turns {
		t := &sc.Turns[i]
		field := fmt.Sprintf("turns[%d]", i)
		inputs := 0
		for _, s := range []string{t.Say, t.WAV, t.Text} {
			if s != "" {
				inputs++
			}
		}
		switch {
		case sc.Replay != "" && (inputs > 0 || t.InterruptAfter > 0):
			return fmt.Errorf("%s: a replayed scenario takes its turns from the recording: give only expect (and timeout)", field)
		case sc.Replay == "" && inputs != 1:
			return fmt.Errorf("%s: exactly one of say, wav and text is needed", field)
		case i == 0 && t.InterruptAfter > 0:
			return fmt.Errorf("%s.interrupt_after: the first turn has no reply to interrupt", field)
		}
		for _, te := range []*TextExpect{t.Expect.Transcript, t.Expect.Reply} {
			if te == nil || te.Matches == "" {
				continue
			}
			re, err := regexp.Compile(te.Matches)
			if err != nil {
				return fmt.Errorf("%s.expect: matches: %w", field, err)
			}
			te.re = re
		}
		for _, tc := range t.Expect.ToolCalls {
			if tc.Name == "" {
				return fmt.Errorf("%s.expect.tool_calls: every call needs a name", field)
			}
			if tc.Location != "" && tc.Location != "client" && tc.Location != "server" {
				return fmt.Errorf("%s.expect.tool_calls: location %q: want client or server", field, tc.Location)
			}
		}
	}
	return nil
}

// spoken reports whether the turn sends audio.
func (t *Turn) spoken() bool { return t.Text == "" }

// input describes the turn for reports.
func (t *Turn) input() string {
	switch {
	case t.Say != "":
		return "say: " + t.Say
	case t.WAV != "":
		return "wav: " + t.WAV
	case t.Text != "":
		return "text: " + t.Text
	}
	return fmt.Sprintf("replayed: %q", t.replayed)
}
