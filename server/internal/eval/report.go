package eval

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	Passed     int              `json:"passed"`
	Failed     int              `json:"failed"`
	DurationMS float64          `json:"duration_ms"`
	Scenarios  []ScenarioResult `json:"scenarios"`
}

// OK reports whether every scenario passed.
func (r *Report) OK() bool { return r.Failed == 0 && len(r.Scenarios) > 0 }

func (r *Report) add(s ScenarioResult) {
	r.Scenarios = append(r.Scenarios, s)
	if s.Passed {
		r.Passed++
	} else {
		r.Failed++
	}
}

// ScenarioResult is one scenario's outcome: it passed when it ran to the
// end (Error empty) and no turn failed.
type ScenarioResult struct {
	Name       string       `json:"name"`
	File       string       `json:"file"`
	Passed     bool         `json:"passed"`
	Error      string       `json:"error,omitempty"`
	DurationMS float64      `json:"duration_ms"`
	Turns      []TurnResult `json:"turns"`
}

func (s ScenarioResult) finish(start time.Time) ScenarioResult {
	s.DurationMS = ms(time.Since(start))
	s.Passed = s.Error == ""
	for _, t := range s.Turns {
		if len(t.Failures) > 0 {
			s.Passed = false
		}
	}
	return s
}

// failures lists every reason the scenario failed, one line each.
func (s ScenarioResult) failures() []string {
	var out []string
	if s.Error != "" {
		out = append(out, s.Error)
	}
	for _, t := range s.Turns {
		// What the server heard goes with each failure: a reply check that
		// fails on a misheard question reads differently from one that fails
		// on a wrong answer.
		input := t.Input
		if t.Transcript != "" {
			input = fmt.Sprintf("%s; heard %q", t.Input, t.Transcript)
		}
		for _, f := range t.Failures {
			out = append(out, fmt.Sprintf("turn %d (%s): %s", t.Index, input, f))
		}
	}
	return out
}

func (s ScenarioResult) line() string {
	verdict := "PASS"
	if !s.Passed {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s  %s (%d turns, %.1f s)", verdict, s.Name, len(s.Turns), s.DurationMS/1e3)
}

// TurnResult is what one turn produced and what of its expectations failed.
type TurnResult struct {
	Index int    `json:"index"`
	Input string `json:"input"`
	// Transcript is the user's final transcripts (a typed turn's text).
	Transcript string     `json:"transcript"`
	Reply      string     `json:"reply"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	// Interrupted: the reply was cut by the user for good.
	Interrupted bool `json:"interrupted"`
	// Failed lists responses that ended with status failed.
	Failed []string `json:"failed_responses,omitempty"`
	// VoiceToVoiceMS is the server's figure (end of speech → first audio
	// sent); ClientVoiceToVoiceMS the eval's (last speech sample sent →
	// first audio received, so it includes the speech's trailing silence).
	VoiceToVoiceMS       *float64     `json:"voice_to_voice_ms,omitempty"`
	ClientVoiceToVoiceMS *float64     `json:"client_voice_to_voice_ms,omitempty"`
	Errors               []ErrorEvent `json:"errors,omitempty"`
	Notes                []string     `json:"notes,omitempty"`
	Failures             []string     `json:"failures,omitempty"`
}

// ToolCall is a tool.call event the turn saw.
type ToolCall struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
	Location  string         `json:"location"`
}

// ErrorEvent is an error event the turn saw.
type ErrorEvent struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// check returns the failed expectations of a turn.
func check(ts *turnState) []string {
	var fails []string
	add := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	fails = append(fails, ts.Notes...)
	if !ts.started {
		return append(fails, "not played: the conversation ended before it")
	}
	if !ts.terminal {
		add("no reply ended in time (replies seen: %d)", ts.responses)
	}
	e := ts.turn.Expect
	fails = append(fails, e.Transcript.check("transcript", ts.Transcript)...)
	fails = append(fails, e.Reply.check("reply", ts.Reply)...)
	for _, want := range e.ToolCalls {
		if !calledWith(ts.ToolCalls, want) {
			add("no call of %s with arguments %s%s (calls: %s)", want.Name, compact(want.Arguments), where(want.Location), compact(ts.ToolCalls))
		}
	}
	if e.Interrupted != nil && *e.Interrupted != ts.Interrupted {
		add("interrupted = %t, want %t", ts.Interrupted, *e.Interrupted)
	}
	if limit := time.Duration(e.MaxVoiceToVoice); limit > 0 {
		switch v := ts.VoiceToVoiceMS; {
		case v == nil:
			add("no voice_to_voice_ms reported (limit %s)", limit)
		case *v > ms(limit):
			add("voice-to-voice %.0f ms, over %s", *v, limit)
		}
	}
	for _, ev := range ts.Errors {
		allowed := false
		for _, code := range e.AllowErrors {
			allowed = allowed || code == ev.Code
		}
		if !allowed {
			add("error event %s: %s", ev.Code, ev.Message)
		}
	}
	return fails
}

func (te *TextExpect) check(what, got string) []string {
	if te == nil {
		return nil
	}
	var fails []string
	lower := strings.ToLower(got)
	for _, s := range te.Contains {
		if !strings.Contains(lower, strings.ToLower(s)) {
			fails = append(fails, fmt.Sprintf("%s does not contain %q: %q", what, s, got))
		}
	}
	for _, s := range te.NotContains {
		if strings.Contains(lower, strings.ToLower(s)) {
			fails = append(fails, fmt.Sprintf("%s contains %q: %q", what, s, got))
		}
	}
	if te.re != nil && !te.re.MatchString(got) {
		fails = append(fails, fmt.Sprintf("%s does not match %q: %q", what, te.Matches, got))
	}
	return fails
}

// calledWith reports whether a call of want.Name carries want's arguments
// (each given key equal, compared as JSON values).
func calledWith(calls []ToolCall, want ToolCallExpect) bool {
	for _, c := range calls {
		if c.Name != want.Name || (want.Location != "" && c.Location != want.Location) {
			continue
		}
		ok := true
		for k, v := range want.Arguments {
			ok = ok && jsonEqual(v, c.Arguments[k])
		}
		if ok {
			return true
		}
	}
	return false
}

// jsonEqual compares two values as JSON: YAML's ints and JSON's floats
// are the same number.
func jsonEqual(a, b any) bool {
	var x, y any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if json.Unmarshal(ja, &x) != nil || json.Unmarshal(jb, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func where(location string) string {
	if location == "" {
		return ""
	}
	return " run by the " + location
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// WriteText writes the human summary: a line per scenario, its failures
// indented below it, then the totals.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Scenarios {
		b.WriteString(s.line() + "\n")
		for _, f := range s.failures() {
			b.WriteString("      " + f + "\n")
		}
	}
	fmt.Fprintf(&b, "%d scenarios: %d passed, %d failed (%.1f s)\n", len(r.Scenarios), r.Passed, r.Failed, r.DurationMS/1e3)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the whole report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit XML, the subset CI systems read: a suite of test cases, each with
// an optional failure.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one test case per scenario.
func (r *Report) WriteJUnit(w io.Writer) error {
	suite := junitSuite{Name: "parley eval", Tests: len(r.Scenarios), Failures: r.Failed, Time: seconds(r.DurationMS)}
	for _, s := range r.Scenarios {
		tc := junitCase{Name: s.Name, ClassName: s.File, Time: seconds(s.DurationMS)}
		var out strings.Builder
		for _, t := range s.Turns {
			fmt.Fprintf(&out, "turn %d (%s): heard %q, replied %q\n", t.Index, t.Input, t.Transcript, t.Reply)
		}
		tc.SystemOut = out.String()
		if fails := s.failures(); !s.Passed {
			tc.Failure = &junitFailure{Message: fails[0], Type: "expectation", Body: strings.Join(fails, "\n")}
		}
		suite.Cases = append(suite.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(msec float64) string { return fmt.Sprintf("%.3f", msec/1e3) }
