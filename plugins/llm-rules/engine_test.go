package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/sdk"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recvTimeout keeps a broken stream from hanging the run; not a speed check.
const recvTimeout = 10 * time.Second

// parleyTools are the tool declarations Parley's server sends.
func parleyTools() []sdk.Tool {
	return []sdk.Tool{
		{Name: "get_current_time", Description: "Returns the current date and time.",
			Parameters: json.RawMessage(`{"type":"object","properties":{"timezone":{"type":"string"}}}`)},
		{Name: "end_session", Description: "Ends the conversation.",
			Parameters: json.RawMessage(`{"type":"object","properties":{}}`)},
		{Name: "calculator", Description: "Evaluates an arithmetic expression.",
			Parameters: json.RawMessage(`{"type":"object","properties":{"expression":{"type":"string"}},"required":["expression"]}`)},
	}
}

func newTestEngine(t *testing.T, settings string) *Engine {
	t.Helper()
	e, err := NewEngine(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	if settings != "" {
		require.NoError(t, e.Configure(context.Background(), json.RawMessage(settings)))
	}
	return e
}

// result is a whole generation.
type result struct {
	deltas []string
	text   string
	calls  []sdk.ToolCall
	done   *sdk.Done
}

func generate(t *testing.T, e *Engine, req sdk.GenerateRequest) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	st, err := e.Generate(ctx, req)
	require.NoError(t, err)
	var r result
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Nil(t, r.done, "nothing after Done")
		switch {
		case ev.TextDelta != "":
			r.deltas = append(r.deltas, ev.TextDelta)
			r.text += ev.TextDelta
		case ev.ToolCall != nil:
			r.calls = append(r.calls, *ev.ToolCall)
		case ev.Done != nil:
			r.done = ev.Done
		default:
			t.Fatalf("empty event %+v", ev)
		}
	}
	require.NotNil(t, r.done, "generation ends with Done")
	return r
}

func user(text string) sdk.Message      { return sdk.Message{Role: sdk.RoleUser, Content: text} }
func assistant(text string) sdk.Message { return sdk.Message{Role: sdk.RoleAssistant, Content: text} }

func ask(t *testing.T, e *Engine, tools []sdk.Tool, msgs ...sdk.Message) result {
	t.Helper()
	return generate(t, e, sdk.GenerateRequest{Messages: msgs, Tools: tools})
}

func TestSmallTalk(t *testing.T) {
	e := newTestEngine(t, "")
	cases := []struct{ in, want string }{
		{"Hello", "Hello! How can I help you today?"},
		{"good morning!", "Hello! How can I help you today?"},
		{"Hey, how are you?", "I'm doing well, thank you for asking! How can I help?"},
		{"thank you so much", "You're welcome!"},
		{"Thanks!", "You're welcome!"},
		{"What can you do?", "I can tell you the time, do arithmetic like seven times six, remember your name, repeat what I said, and chat a little. Say goodbye when you want to end the call."},
		{"are you a robot?", "I'm Parley's offline demo assistant: a small set of rules, not a real language model. I can chat a little, tell the time and do sums."},
		{"what's the weather like in Paris", "I can't check the weather: I have no internet access. I can tell you the time, though."},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			r := ask(t, e, parleyTools(), user(tc.in))
			assert.Equal(t, tc.want, r.text)
			assert.Empty(t, r.calls)
			assert.Equal(t, sdk.StopEndTurn, r.done.StopReason)
		})
	}
}

func TestFallbackIsPolite(t *testing.T) {
	e := newTestEngine(t, "")
	r := ask(t, e, parleyTools(), user("blorp the flibber quantum"))
	assert.Equal(t, "I'm sorry, I didn't understand that. I'm a simple rule-based assistant: you can ask me the time, ask me to do some arithmetic, or just chat.", r.text)
	// A later turn gets the next fallback reply, deterministically.
	r2 := ask(t, e, parleyTools(), user("blorp"), assistant(r.text), user("zzz"))
	assert.Equal(t, "Sorry, I don't know how to answer that one. Try asking me the time or a sum like seven times six.", r2.text)
	assert.Equal(t, r2.text, ask(t, e, parleyTools(), user("blorp"), assistant(r.text), user("zzz")).text)
}

// checkArgs checks that args is a JSON object that fits schema: only known
// properties, every required one present, types right.
func checkArgs(t *testing.T, schema, args json.RawMessage) map[string]any {
	t.Helper()
	var s struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	require.NoError(t, json.Unmarshal(schema, &s))
	var got map[string]any
	require.NoError(t, json.Unmarshal(args, &got), "arguments are a JSON object: %s", args)
	for k, v := range got {
		p, ok := s.Properties[k]
		require.True(t, ok, "argument %q not in the schema", k)
		if p.Type == "string" {
			assert.IsType(t, "", v, k)
		}
	}
	for _, k := range s.Required {
		assert.Contains(t, got, k)
	}
	return got
}

func TestToolCalls(t *testing.T) {
	e := newTestEngine(t, "")
	cases := []struct {
		in, tool string
		args     map[string]any
	}{
		{"What time is it?", "get_current_time", map[string]any{}},
		{"Can you tell me the time please", "get_current_time", map[string]any{}},
		{"What is seven times six?", "calculator", map[string]any{"expression": "7*6"}},
		{"what's 12 plus 30", "calculator", map[string]any{"expression": "12+30"}},
		{"calculate (3+4)*2", "calculator", map[string]any{"expression": "(3+4)*2"}},
		{"How much is twenty-one divided by three?", "calculator", map[string]any{"expression": "21/3"}},
		{"add three and four", "calculator", map[string]any{"expression": "3+4"}},
		{"2 ^ 10 =", "calculator", map[string]any{"expression": "2^10"}},
		{"one is seven times six", "calculator", map[string]any{"expression": "7*6"}},
		{"Goodbye!", "end_session", map[string]any{}},
		{"please end the call", "end_session", map[string]any{}},
		{"ok hang up", "end_session", map[string]any{}},
	}
	tools := parleyTools()
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			r := ask(t, e, tools, user(tc.in))
			require.Len(t, r.calls, 1)
			c := r.calls[0]
			assert.Equal(t, tc.tool, c.Name)
			assert.True(t, strings.HasPrefix(c.ID, "call_"), c.ID)
			tool, ok := findTool(tools, tc.tool)
			require.True(t, ok)
			assert.Equal(t, tc.args, checkArgs(t, tool.Parameters, c.Arguments))
			assert.Equal(t, sdk.StopToolUse, r.done.StopReason)
			assert.Equal(t, 1, r.done.Usage.OutputTokens)
		})
	}
}

func TestToolCallIDsAreUnique(t *testing.T) {
	e := newTestEngine(t, "")
	seen := map[string]bool{}
	for range 50 {
		r := ask(t, e, parleyTools(), user("what time is it"))
		require.Len(t, r.calls, 1)
		assert.False(t, seen[r.calls[0].ID], "duplicate id %s", r.calls[0].ID)
		seen[r.calls[0].ID] = true
	}
}

func TestWithoutToolsTheAgentAnswersItself(t *testing.T) {
	e := newTestEngine(t, "")
	cases := []struct{ in, want string }{
		{"What is seven times six?", "Seven times six is 42."},
		{"calculate (3+4)*2", "Three plus four times two is 14."},
		{"what's 10 divided by 4", "Ten divided by four is 2.5."},
		{"what is 5 divided by zero", "Sorry, I can't work out five divided by zero: division by zero."},
		{"what time is it", "I'm sorry, I don't have a clock I can use, so I can't tell you the time."},
		{"bye", "Goodbye! Have a great day."},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			r := ask(t, e, nil, user(tc.in))
			assert.Equal(t, tc.want, r.text)
			assert.Empty(t, r.calls)
			assert.Equal(t, sdk.StopEndTurn, r.done.StopReason)
		})
	}
}

func TestOnlyOfferedToolsAreCalled(t *testing.T) {
	e := newTestEngine(t, "")
	onlyCalc := []sdk.Tool{parleyTools()[2]}
	r := ask(t, e, onlyCalc, user("what time is it"))
	assert.Empty(t, r.calls)
	assert.Contains(t, r.text, "can't tell you the time")
	r = ask(t, e, onlyCalc, user("goodbye"))
	assert.Empty(t, r.calls)
	assert.Equal(t, "Goodbye! Have a great day.", r.text)
}

func TestRepliesUseToolResults(t *testing.T) {
	e := newTestEngine(t, "")
	call := func(id, name, args string) sdk.Message {
		return sdk.Message{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{{ID: id, Name: name, Arguments: json.RawMessage(args)}}}
	}
	tool := func(id, content string, isErr bool) sdk.Message {
		return sdk.Message{Role: sdk.RoleTool, ToolCallID: id, Content: content, IsError: isErr}
	}
	cases := []struct {
		name string
		msgs []sdk.Message
		want string
	}{
		{"time", []sdk.Message{user("what time is it?"), call("c1", "get_current_time", `{}`),
			tool("c1", `{"time":"2026-11-25T15:04:05+01:00","timezone":"Europe/Paris","weekday":"Wednesday"}`, false)}, "It is 3:04 PM."},
		{"time as plain text", []sdk.Message{user("time?"), call("c1", "get_current_time", `{}`), tool("c1", "2026-11-25T09:30:00Z", false)}, "It is 9:30 AM."},
		{"calculator", []sdk.Message{user("what is seven times six"), call("c2", "calculator", `{"expression":"7*6"}`),
			tool("c2", `{"result":42}`, false)}, "Seven times six is 42."},
		{"calculator bare number", []sdk.Message{user("what is 1/3"), call("c2", "calculator", `{"expression":"1/3"}`),
			tool("c2", `0.3333333333333333`, false)}, "One divided by three is 0.333333."},
		{"calculator error", []sdk.Message{user("what is 1/0"), call("c3", "calculator", `{"expression":"1/0"}`),
			tool("c3", "division by zero", true)}, "Sorry, I couldn't get that: division by zero."},
		{"end session with name", []sdk.Message{user("my name is ada"), assistant("Nice to meet you, Ada!"), user("bye"),
			call("c4", "end_session", `{}`), tool("c4", `{"ok":true}`, false)}, "Goodbye, Ada! Have a great day."},
		{"unknown tool", []sdk.Message{user("weather?"), call("c5", "get_weather", `{}`), tool("c5", "sunny", false)}, "The get_weather tool says: sunny"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ask(t, e, parleyTools(), tc.msgs...)
			assert.Equal(t, tc.want, r.text)
			assert.Empty(t, r.calls)
			assert.Equal(t, sdk.StopEndTurn, r.done.StopReason)
		})
	}
}

func TestMultiTurnMemory(t *testing.T) {
	e := newTestEngine(t, "")
	r := ask(t, e, nil, user("Hi, my name is ada"))
	assert.Equal(t, "Nice to meet you, Ada! How can I help you?", r.text)
	hist := []sdk.Message{user("Hi, my name is ada"), assistant(r.text), user("What is my name?")}
	assert.Equal(t, "Your name is Ada.", ask(t, e, nil, hist...).text)
	assert.Equal(t, "Hi Ada! What can I do for you?", ask(t, e, nil, append(hist[:2:2], user("hello"))...).text)

	assert.Equal(t, "You haven't told me your name yet. What is it?", ask(t, e, nil, user("what's my name")).text)

	hist = []sdk.Message{user("what is 2 plus 2"), assistant("Two plus two is 4."), user("can you repeat that?")}
	assert.Equal(t, "I said: Two plus two is 4.", ask(t, e, nil, hist...).text)
	assert.Equal(t, "I haven't said anything yet.", ask(t, e, nil, user("say that again")).text)

	hist = []sdk.Message{user("I like green tea"), assistant("I'm not sure what you mean."), user("What did I say before?")}
	assert.Equal(t, "You said: I like green tea", ask(t, e, nil, hist...).text)
	assert.Equal(t, "This is the first thing you've said to me.", ask(t, e, nil, user("what did I just say")).text)

	// The latest statement of a name wins.
	hist = []sdk.Message{user("my name is ada"), assistant("Hi"), user("call me grace"), assistant("Hi"), user("who am I")}
	assert.Equal(t, "Your name is Grace.", ask(t, e, nil, hist...).text)
}

func TestStreamingDeltasAndUsage(t *testing.T) {
	msgs := []sdk.Message{{Role: sdk.RoleSystem, Content: "You are a helper."}, user("What can you do?")}
	want := "I can tell you the time, do arithmetic like seven times six, remember your name, repeat what I said, and chat a little. Say goodbye when you want to end the call."
	words := len(strings.Fields(want))

	r := generate(t, newTestEngine(t, ""), sdk.GenerateRequest{Messages: msgs})
	assert.Equal(t, want, r.text)
	assert.Len(t, r.deltas, words, "one word per delta")
	assert.Equal(t, "I", r.deltas[0])
	assert.Equal(t, " can", r.deltas[1])
	assert.Equal(t, sdk.Usage{InputTokens: 4 + 4, OutputTokens: words}, r.done.Usage)

	r = generate(t, newTestEngine(t, `{"words_per_delta":4}`), sdk.GenerateRequest{Messages: msgs})
	assert.Equal(t, want, r.text)
	assert.Len(t, r.deltas, (words+3)/4)

	r = generate(t, newTestEngine(t, ""), sdk.GenerateRequest{Messages: msgs, MaxTokens: 3})
	assert.Equal(t, "I can tell", r.text)
	assert.Equal(t, sdk.StopMaxTokens, r.done.StopReason)
	assert.Equal(t, 3, r.done.Usage.OutputTokens)
}

func TestSplitDeltas(t *testing.T) {
	assert.Equal(t, []string{"Hello", " there,", "  friend!"}, splitDeltas("Hello there,  friend!", 1))
	assert.Equal(t, []string{"a b", " c"}, splitDeltas("a b c", 2))
	assert.Empty(t, splitDeltas("", 1))
}

func TestCancelStopsStreaming(t *testing.T) {
	e := newTestEngine(t, `{"delta_delay_ms":1000}`)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := e.Generate(ctx, sdk.GenerateRequest{Messages: []sdk.Message{user("what can you do")}})
	require.NoError(t, err)
	ev, err := st.Recv()
	require.NoError(t, err)
	assert.Equal(t, "I", ev.TextDelta)
	cancel()
	_, err = st.Recv()
	assert.ErrorIs(t, err, context.Canceled)
}

func TestGenerateRejectsEmptyConversation(t *testing.T) {
	_, err := newTestEngine(t, "").Generate(context.Background(), sdk.GenerateRequest{})
	assertInvalidField(t, err, "messages")
}

func TestCustomRulesFile(t *testing.T) {
	e := newTestEngine(t, `{"rules_file":"testdata/custom.yaml"}`)
	assert.Equal(t, "I love I want pizza too.", ask(t, e, nil, user("I want pizza")).text)
	assert.Equal(t, "One burger coming up.", ask(t, e, nil, user("Please order burger")).text)
	assert.Equal(t, "Custom fallback.", ask(t, e, nil, user("hello")).text)
}

func TestBadSettingsNameTheField(t *testing.T) {
	cases := []struct {
		name, settings, field, inMessage string
	}{
		{"unknown field", `{"colour":"blue"}`, "colour", ""},
		{"words per delta", `{"words_per_delta":0}`, "words_per_delta", ""},
		{"delay", `{"delta_delay_ms":-1}`, "delta_delay_ms", ""},
		{"wrong type", `{"rules_file":3}`, "rules_file", ""},
		{"missing file", `{"rules_file":"testdata/nope.yaml"}`, "rules_file", "nope.yaml"},
		{"bad regex", `{"rules_file":"testdata/bad_regex.yaml"}`, "rules_file", "rules[0] (broken).patterns[0]"},
		{"bad template", `{"rules_file":"testdata/bad_template.yaml"}`, "rules_file", "rules[1] (typo).replies[0]"},
		{"unknown key", `{"rules_file":"testdata/unknown_key.yaml"}`, "rules_file", "replys"},
		{"calculate without expr group", `{"rules_file":"testdata/calc_no_group.yaml"}`, "rules_file", "(?P<expr>...)"},
		{"bad version", `{"rules_file":"testdata/bad_version.yaml"}`, "rules_file", "version"},
		{"not yaml rules", `{"rules_file":"engine.go"}`, "rules_file", "engine.go"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEngine(t, "")
			err := e.Configure(context.Background(), json.RawMessage(tc.settings))
			assertInvalidField(t, err, tc.field)
			assert.Contains(t, err.Error(), tc.inMessage)
			// The old rules stay in force.
			assert.Equal(t, "Hello! How can I help you today?", ask(t, e, nil, user("hello")).text)
		})
	}
}

func assertInvalidField(t *testing.T, err error, field string) {
	t.Helper()
	var se *sdk.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, sdk.CodeInvalidArgument, se.Code)
	assert.Equal(t, field, se.Details["field"])
}

func TestToolArgumentsFitOtherSchemas(t *testing.T) {
	args, err := toolArguments(json.RawMessage(`{"type":"object","properties":{"expr":{"type":"string"}},"required":["expr"]}`),
		map[string]string{argExpression: "7*6"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"expr":"7*6"}`, string(args))

	args, err = toolArguments(json.RawMessage(`{"type":"object","properties":{"reason":{"type":"string"},"force":{"type":"boolean"},"mode":{"type":"string","enum":["soft","hard"]}},"required":["reason","force","mode"]}`),
		map[string]string{argReason: endSessionReason})
	require.NoError(t, err)
	assert.JSONEq(t, `{"reason":"the user said goodbye","force":false,"mode":"soft"}`, string(args))

	args, err = toolArguments(nil, nil)
	require.NoError(t, err)
	assert.JSONEq(t, `{}`, string(args))

	_, err = toolArguments(json.RawMessage(`[1]`), nil)
	assert.Error(t, err)
}

func TestInfo(t *testing.T) {
	info, err := newTestEngine(t, "").Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, sdk.KindLLM, info.Kind)
	assert.Equal(t, pluginName, info.Name)
	assert.Contains(t, info.Capabilities, "tools")
}

// TestToolActionCallsNamedTool: an action-tool rule calls its tool (here
// the MCP notes server's, as Parley offers it) with templated arguments,
// says the result with its result reply, and without the tool answers
// with its replies.
func TestToolActionCallsNamedTool(t *testing.T) {
	e := newTestEngine(t, "")
	notes := append(parleyTools(),
		sdk.Tool{Name: "notes_add_note", Description: "Remembers a note.",
			Parameters: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`)},
		sdk.Tool{Name: "notes_list_notes", Description: "Reads the notes.", Parameters: json.RawMessage(`{"type":"object"}`)})
	r := ask(t, e, notes, user("Remember that the meeting is at noon."))
	require.Len(t, r.calls, 1)
	assert.Equal(t, "notes_add_note", r.calls[0].Name)
	assert.JSONEq(t, `{"text":"The meeting is at noon"}`, string(r.calls[0].Arguments))
	r = ask(t, e, notes, user("what are my notes"))
	require.Len(t, r.calls, 1)
	assert.Equal(t, "notes_list_notes", r.calls[0].Name)

	res := ask(t, e, notes, user("take a note buy milk"),
		sdk.Message{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{{ID: "c1", Name: "notes_add_note", Arguments: json.RawMessage(`{"text":"buy milk"}`)}}},
		sdk.Message{Role: sdk.RoleTool, ToolCallID: "c1", Content: "Noted: buy milk. You have one note."})
	assert.Equal(t, "Noted: buy milk. You have one note.", res.text)

	r = ask(t, e, parleyTools(), user("remember that the meeting is at noon"))
	assert.Empty(t, r.calls, "a tool the host does not offer is not called")
	assert.Equal(t, "I can't take notes right now: no notes tool is connected.", r.text)
}

func TestToolActionRulesAreChecked(t *testing.T) {
	for name, rules := range map[string]string{
		"no tool":       "version: 1\nrules: [{name: x, action: tool, patterns: [x], replies: [y]}]\n",
		"tool on reply": "version: 1\nrules: [{name: x, tool: t, patterns: [x], replies: [y]}]\n",
		"bad argument":  "version: 1\nrules: [{name: x, action: tool, tool: t, arguments: {a: '{{'}, patterns: [x], replies: [y]}]\n",
	} {
		_, err := parseRules([]byte(rules))
		assert.Error(t, err, name)
	}
}
