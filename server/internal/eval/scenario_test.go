package eval

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

const shippedDir = "../../../configs/evals"

// schema compiles configs/evals/scenario.schema.json.
func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shippedDir, "scenario.schema.json"))
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("scenario.schema.json", doc))
	sch, err := c.Compile("scenario.schema.json")
	require.NoError(t, err)
	return sch
}

// asJSON decodes YAML into the JSON value model the schema validates.
func asJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal(data, &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return doc
}

func TestShippedScenariosLoadAndMatchTheSchema(t *testing.T) {
	sch := schema(t)
	scs, err := Load(shippedDir)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(scs), 5)
	names := map[string]bool{}
	for _, sc := range scs {
		names[sc.Name] = true
		raw, err := os.ReadFile(sc.File)
		require.NoError(t, err)
		assert.NoError(t, sch.Validate(asJSON(t, raw)), sc.File)
	}
	for _, want := range []string{"arithmetic", "barge-in", "client-tool", "joke", "memory"} {
		assert.True(t, names[want], "configs/evals has no %s scenario", want)
	}
}

// TestBadScenariosAreRefused: the loader and (where JSON Schema can say
// it) the schema refuse the same mistakes.
func TestBadScenariosAreRefused(t *testing.T) {
	sch := schema(t)
	cases := []struct {
		name, doc, err string
		schemaToo      bool
	}{
		{"no turns", "name: x\n", "at least one turn", true},
		{"unknown key", "turns: [{say: hi, shout: yes}]\n", "shout", true},
		{"unknown expectation", "turns: [{say: hi, expect: {reply: {equals: hi}}}]\n", "equals", true},
		{"no input", "turns: [{expect: {reply: {contains: [hi]}}}]\n", "exactly one of say, wav and text", true},
		{"two inputs", "turns: [{say: hi, text: hi}]\n", "exactly one of say, wav and text", true},
		{"bad duration", "turns: [{say: hi}, {say: stop, interrupt_after: soon}]\n", "not a duration", true},
		{"bad location", "turns: [{text: hi, expect: {tool_calls: [{name: t, location: cloud}]}}]\n", "want client or server", true},
		{"first turn interrupts", "turns: [{say: hi, interrupt_after: 1s}]\n", "no reply to interrupt", false},
		{"bad regexp", "turns: [{say: hi, expect: {reply: {matches: \"(\"}}}]\n", "matches", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.err)
			if c.schemaToo {
				assert.Error(t, sch.Validate(asJSON(t, []byte(c.doc))), "the schema accepts it")
			}
		})
	}
}

func TestLoadReadsWAVAndNamesFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("turns: [{wav: q.wav}]\n"), 0o600))
	_, err := Load(dir)
	require.ErrorIs(t, err, ErrScenario)
	assert.Contains(t, err.Error(), "a.yaml")
	assert.Contains(t, err.Error(), "turns[0].wav")

	writeTone(t, filepath.Join(dir, "q.wav"), 8000, 800)
	scs, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, scs, 1)
	assert.Equal(t, "a", scs[0].Name)
	assert.Len(t, scs[0].Turns[0].audio, 1600, "800 samples at 8 kHz are 1600 at 16 kHz")

	_, err = Load(t.TempDir())
	assert.ErrorContains(t, err, "no .yaml scenario")
}

func writeTone(t *testing.T, path string, rate, n int) {
	t.Helper()
	var b bytes.Buffer
	data := make([]byte, 2*n)
	for i := range n {
		v := int16(8000 * ((i / 10) % 2))
		data[2*i], data[2*i+1] = byte(v), byte(v>>8)
	}
	hdr := func(s string) { b.WriteString(s) }
	u32 := func(v int) { b.Write([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}) }
	u16 := func(v int) { b.Write([]byte{byte(v), byte(v >> 8)}) }
	hdr("RIFF")
	u32(36 + len(data))
	hdr("WAVEfmt ")
	u32(16)
	u16(1)
	u16(1)
	u32(rate)
	u32(rate * 2)
	u16(2)
	u16(16)
	hdr("data")
	u32(len(data))
	b.Write(data)
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o600))
}

func ptr[T any](v T) *T { return &v }

func TestCheck(t *testing.T) {
	parse := func(doc string) *Turn {
		sc, err := Parse([]byte(doc))
		require.NoError(t, err)
		return &sc.Turns[0]
	}
	turn := parse(`turns:
  - say: what is seven times six
    expect:
      transcript: {contains: [seven]}
      reply: {contains: ["42"], not_contains: [sorry], matches: "^Seven"}
      tool_calls: [{name: calculator, arguments: {expression: "7*6"}, location: server}]
      interrupted: false
      max_voice_to_voice: 1s
      allow_errors: [tool_timeout]
`)
	good := &turnState{turn: turn, started: true, terminal: true, complete: true, TurnResult: TurnResult{
		Transcript: "what is seven times six", Reply: "Seven times six is 42.",
		ToolCalls:      []ToolCall{{Name: "calculator", Arguments: map[string]any{"expression": "7*6", "extra": 1.0}, Location: "server"}},
		VoiceToVoiceMS: ptr(900.0), Errors: []ErrorEvent{{Code: "tool_timeout"}},
	}}
	assert.Empty(t, check(good))

	bad := *good
	bad.Transcript, bad.Reply, bad.Interrupted = "what is heaven", "Sorry, 41.", true
	bad.ToolCalls = []ToolCall{{Name: "calculator", Arguments: map[string]any{"expression": "7*5"}, Location: "server"}}
	bad.VoiceToVoiceMS = ptr(1500.0)
	bad.Errors = []ErrorEvent{{Code: "llm_failed", Message: "the model failed"}}
	fails := check(&bad)
	joined := ""
	for _, f := range fails {
		joined += f + "\n"
	}
	for _, want := range []string{
		`transcript does not contain "seven"`, `reply does not contain "42"`, `reply contains "sorry"`,
		`reply does not match "^Seven"`, "no call of calculator", "interrupted = true, want false",
		"voice-to-voice 1500 ms, over 1s", "error event llm_failed",
	} {
		assert.Contains(t, joined, want)
	}

	wrongPlace := *good
	wrongPlace.ToolCalls = []ToolCall{{Name: "calculator", Arguments: map[string]any{"expression": "7*6"}, Location: "client"}}
	assert.Contains(t, check(&wrongPlace)[0], "run by the server")

	silent := &turnState{turn: turn, started: true}
	assert.Contains(t, check(silent)[0], "no reply ended in time")
	assert.Contains(t, check(&turnState{turn: turn})[0], "not played")

	typed := parse("turns: [{text: hello there, expect: {transcript: {contains: [hello]}}}]\n")
	assert.Empty(t, check(&turnState{turn: typed, started: true, terminal: true, TurnResult: TurnResult{Transcript: "hello there"}}))
}

func TestReportFormats(t *testing.T) {
	start := time.Now()
	rep := &Report{}
	rep.add(ScenarioResult{Name: "ok", File: "ok.yaml", Turns: []TurnResult{{Input: "say: hi", Reply: "Hello!"}}}.finish(start))
	rep.add(ScenarioResult{Name: "broken", File: "broken.yaml", Turns: []TurnResult{
		{Index: 0, Input: "say: what time is it", Failures: []string{`reply does not contain "9:30"`}},
		{Index: 1, Input: "say: what is seven times six", Transcript: "one is seven times sex", Failures: []string{`reply does not contain "42"`}},
	}}.finish(start))
	rep.add(ScenarioResult{Name: "down", File: "down.yaml", Error: "connect: refused"}.finish(start))
	assert.False(t, rep.OK())
	assert.Equal(t, 1, rep.Passed)
	assert.Equal(t, 2, rep.Failed)

	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	assert.Contains(t, text.String(), "PASS  ok")
	assert.Contains(t, text.String(), "FAIL  broken")
	assert.Contains(t, text.String(), `turn 0 (say: what time is it): reply does not contain "9:30"`)
	assert.Contains(t, text.String(), `turn 1 (say: what is seven times six; heard "one is seven times sex"): reply does not contain "42"`,
		"a failure shows what the server heard")
	assert.Contains(t, text.String(), "3 scenarios: 1 passed, 2 failed")

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	assert.Equal(t, 2, back.Failed)
	assert.Equal(t, "connect: refused", back.Scenarios[2].Error)

	var x bytes.Buffer
	require.NoError(t, rep.WriteJUnit(&x))
	var ju junitSuites
	require.NoError(t, xml.Unmarshal(x.Bytes(), &ju))
	require.Len(t, ju.Suites, 1)
	s := ju.Suites[0]
	assert.Equal(t, 3, s.Tests)
	assert.Equal(t, 2, s.Failures)
	require.Len(t, s.Cases, 3)
	assert.Nil(t, s.Cases[0].Failure)
	require.NotNil(t, s.Cases[1].Failure)
	assert.Contains(t, s.Cases[1].Failure.Message, `reply does not contain "9:30"`)
	assert.Equal(t, "broken.yaml", s.Cases[1].ClassName)
	require.NotNil(t, s.Cases[2].Failure)
	assert.Equal(t, "connect: refused", s.Cases[2].Failure.Message)
}

func TestVoiceURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":        "ws://127.0.0.1:8080/ws/voice",
		"https://parley.example.com/":  "wss://parley.example.com/ws/voice",
		"ws://127.0.0.1:9/ws/voice":    "ws://127.0.0.1:9/ws/voice",
		"wss://h.example/custom/voice": "wss://h.example/custom/voice",
	} {
		got, err := parleyv1.VoiceURL(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := parleyv1.VoiceURL("ftp://x")
	assert.ErrorIs(t, err, ErrBadURL)
}

func TestReplayScenarioRules(t *testing.T) {
	sch := schema(t)
	ok := "replay: rec.wav\nturns: [{expect: {reply: {contains: [hi]}}}]\n"
	_, err := Parse([]byte(ok))
	require.NoError(t, err)
	assert.NoError(t, sch.Validate(asJSON(t, []byte(ok))))
	_, err = Parse([]byte("replay: rec.wav\n"))
	assert.NoError(t, err, "expectations are optional")
	bad := "replay: rec.wav\nturns: [{say: hi}]\n"
	_, err = Parse([]byte(bad))
	assert.ErrorContains(t, err, "takes its turns from the recording")
	assert.Error(t, sch.Validate(asJSON(t, []byte(bad))))

	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	require.NoError(t, os.WriteFile(path, []byte("replay: missing.wav\n"), 0o600))
	_, err = LoadFile(path)
	assert.ErrorContains(t, err, "replay")
}
