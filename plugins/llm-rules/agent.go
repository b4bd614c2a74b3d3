package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/sdk"
)

// Names of the host tools the agent knows how to use.
const (
	toolTime       = "get_current_time"
	toolCalculator = "calculator"
	toolEndSession = "end_session"
)

// Tool argument names.
const (
	argExpression = "expression"
	argReason     = "reason"
)

// endSessionReason is given when end_session's schema requires a reason.
const endSessionReason = "the user said goodbye"

// toolCallIDChars is how many random base32 characters a call id carries.
const toolCallIDChars = 16

// sampleGroups is the size of the sample capture list templates are
// checked against at load time.
const sampleGroups = 10

// replyData is what reply templates see.
type replyData struct {
	// Name is the user's name, learned from the conversation.
	Name string
	// Input is the user's message being answered.
	Input string
	// Groups are the matched pattern's groups (0 = the whole match).
	Groups []string
	// Named are the matched pattern's named groups.
	Named map[string]string
	// Last is the last non-empty assistant message.
	Last string
	// Previous is the user's message before Input.
	Previous string
	// Arithmetic and tool fields.
	Expression, Spoken, Result, Error   string
	Time, Date, Weekday, Timezone, Tool string
}

func sampleReplyData() replyData {
	return replyData{
		Groups: make([]string, sampleGroups),
		Named:  map[string]string{groupName: "", groupExpr: ""},
	}
}

// turn is the agent's answer: text to stream, then maybe one tool call.
type turn struct {
	text string
	call *sdk.ToolCall
}

// respond decides the next assistant turn for req. It is deterministic
// except for tool call ids.
func respond(rs *ruleSet, req sdk.GenerateRequest) (turn, error) {
	msgs := req.Messages
	if len(msgs) == 0 {
		return turn{}, sdk.InvalidField("messages", "at least one message is required")
	}
	if msgs[len(msgs)-1].Role == sdk.RoleTool {
		return toolResultTurn(rs, msgs)
	}
	cur := -1
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == sdk.RoleUser {
			cur = i
			break
		}
	}
	data := replyData{Name: learnName(rs, msgs)}
	userTurns := 0
	for i, m := range msgs {
		switch {
		case m.Role == sdk.RoleUser && i < cur:
			data.Previous = strings.TrimSpace(m.Content)
			userTurns++
		case m.Role == sdk.RoleAssistant && strings.TrimSpace(m.Content) != "":
			data.Last = strings.TrimSpace(m.Content)
		}
	}
	if cur >= 0 {
		data.Input = strings.TrimSpace(msgs[cur].Content)
	}
	pick := func(ts []*template.Template) (turn, error) {
		text, err := render(ts[userTurns%len(ts)], data)
		return turn{text: text}, err
	}
	words := wordSet(data.Input)
	for _, r := range rs.rules {
		groups, named, ok := r.match(data.Input, words)
		if !ok {
			continue
		}
		data.Groups, data.Named = groups, named
		switch r.action {
		case actionTime:
			if tool, ok := findTool(req.Tools, toolTime); ok {
				return callTool(tool, nil)
			}
		case actionEndSession:
			if tool, ok := findTool(req.Tools, toolEndSession); ok {
				return callTool(tool, map[string]string{argReason: endSessionReason})
			}
		case actionCalculate:
			expr, ok := rs.arith.toArithmetic(named[groupExpr])
			if !ok {
				continue
			}
			node, err := parseExpr(expr)
			if err != nil || !node.hasOperator() {
				continue // not arithmetic after all: let later rules try
			}
			if tool, ok := findTool(req.Tools, toolCalculator); ok {
				return callTool(tool, map[string]string{argExpression: node.compact()})
			}
			data.Expression, data.Spoken = node.compact(), node.spoken()
			v, err := node.eval()
			if err != nil {
				data.Error = err.Error()
				if len(r.errorReplies) > 0 {
					return pick(r.errorReplies)
				}
				return pick(rs.fallback)
			}
			data.Result = formatNumber(v)
		case actionTool:
			if tool, ok := findTool(req.Tools, r.tool); ok {
				args := make(map[string]string, len(r.arguments))
				for k, t := range r.arguments {
					v, err := render(t, data)
					if err != nil {
						return turn{}, err
					}
					args[k] = v
				}
				return callTool(tool, args)
			}
		case actionRepeat:
			if data.Last == "" && len(r.emptyReplies) > 0 {
				return pick(r.emptyReplies)
			}
		case actionRecall:
			if data.Previous == "" && len(r.emptyReplies) > 0 {
				return pick(r.emptyReplies)
			}
		case actionReply:
		}
		return pick(r.replies)
	}
	return pick(rs.fallback)
}

// match reports whether the rule matches input, with the pattern's groups.
func (r rule) match(input string, words map[string]bool) ([]string, map[string]string, bool) {
	for _, re := range r.patterns {
		m := re.FindStringSubmatch(input)
		if m == nil {
			continue
		}
		named := map[string]string{}
		for i, n := range re.SubexpNames() {
			if n != "" {
				named[n] = m[i]
			}
		}
		return m, named, true
	}
next:
	for _, set := range r.keywords {
		for _, w := range set {
			if !words[w] {
				continue next
			}
		}
		return []string{input}, map[string]string{}, true
	}
	return nil, nil, false
}

// wordSet returns the lower-case words of text.
func wordSet(text string) map[string]bool {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	set := make(map[string]bool, len(words))
	for _, w := range words {
		set[w] = true
	}
	return set
}

// learnName returns the user's name from the latest user message that
// states it ("my name is Ada"), or "".
func learnName(rs *ruleSet, msgs []sdk.Message) string {
	name := ""
	for _, m := range msgs {
		if m.Role != sdk.RoleUser {
			continue
		}
		for _, re := range rs.namePatterns {
			sm := re.FindStringSubmatch(m.Content)
			if sm == nil {
				continue
			}
			if n := sm[re.SubexpIndex(groupName)]; n != "" && !notAName(n) {
				name = capitalize(strings.ToLower(n))
			}
		}
	}
	return name
}

// notAName filters words that follow "my name is" without being a name.
func notAName(w string) bool {
	switch strings.ToLower(w) {
	case "not", "none", "nothing", "secret", "unknown", "a", "the", "what", "private":
		return true
	}
	return false
}

// findTool returns the tool called name if the host offers it.
func findTool(tools []sdk.Tool, name string) (sdk.Tool, bool) {
	for _, t := range tools {
		if t.Name == name {
			return t, true
		}
	}
	return sdk.Tool{}, false
}

// callTool returns a turn that calls tool with arguments fitted to its
// schema (see toolArguments).
func callTool(tool sdk.Tool, values map[string]string) (turn, error) {
	args, err := toolArguments(tool.Parameters, values)
	if err != nil {
		return turn{}, &sdk.Error{Code: sdk.CodeInvalidArgument, Message: "tool " + tool.Name + ": unusable parameter schema",
			Details: map[string]string{"field": "tools"}, Err: err}
	}
	return turn{call: &sdk.ToolCall{ID: newCallID(), Name: tool.Name, Arguments: args}}, nil
}

// schemaProperty is the part of a JSON Schema property the agent reads.
type schemaProperty struct {
	Type    any               `json:"type"`
	Enum    []json.RawMessage `json:"enum"`
	Default json.RawMessage   `json:"default"`
}

// objectSchema is the part of a tool's parameter schema the agent reads.
type objectSchema struct {
	Properties map[string]schemaProperty `json:"properties"`
	Required   []string                  `json:"required"`
}

// toolArguments builds a JSON object for schema from values. A value goes
// to the property of the same name; when the schema has no such property
// it goes to the first required string property (then the only string
// property), or is left out. Required properties still missing get their
// default, their first enum value or the zero value of their type.
func toolArguments(schema json.RawMessage, values map[string]string) (json.RawMessage, error) {
	var s objectSchema
	if len(schema) > 0 {
		if err := json.Unmarshal(schema, &s); err != nil {
			return nil, fmt.Errorf("parameters: %w", err)
		}
	}
	args := map[string]json.RawMessage{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	for _, k := range sortedKeys(keys) {
		target := k
		if _, ok := s.Properties[k]; !ok {
			target = fallbackProperty(s, args)
		}
		if target == "" {
			continue // nowhere in the schema to put it
		}
		b, err := json.Marshal(values[k])
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", k, err)
		}
		args[target] = b
	}
	for _, name := range s.Required {
		if _, ok := args[name]; ok {
			continue
		}
		p := s.Properties[name]
		switch {
		case len(p.Default) > 0:
			args[name] = p.Default
		case len(p.Enum) > 0:
			args[name] = p.Enum[0]
		default:
			args[name] = zeroJSON(p.Type)
		}
	}
	return json.Marshal(args)
}

func sortedKeys(keys []string) []string {
	slices.Sort(keys)
	return keys
}

// fallbackProperty picks where a value goes when its name is not a
// property: the first unfilled required string property, else the only
// string property.
func fallbackProperty(s objectSchema, filled map[string]json.RawMessage) string {
	for _, r := range s.Required {
		if _, done := filled[r]; !done && s.Properties[r].Type == "string" {
			return r
		}
	}
	only := ""
	for name, p := range s.Properties {
		if p.Type == "string" {
			if only != "" {
				return ""
			}
			only = name
		}
	}
	if _, done := filled[only]; done {
		return ""
	}
	return only
}

func zeroJSON(typ any) json.RawMessage {
	switch typ {
	case "string":
		return json.RawMessage(`""`)
	case "number", "integer":
		return json.RawMessage(`0`)
	case "boolean":
		return json.RawMessage(`false`)
	case "array":
		return json.RawMessage(`[]`)
	case "object":
		return json.RawMessage(`{}`)
	default:
		return json.RawMessage(`null`)
	}
}

// newCallID returns a unique tool call id.
func newCallID() string {
	return "call_" + rand.Text()[:toolCallIDChars]
}

// toolResultTurn answers the trailing tool results of msgs.
func toolResultTurn(rs *ruleSet, msgs []sdk.Message) (turn, error) {
	start := len(msgs)
	for start > 0 && msgs[start-1].Role == sdk.RoleTool {
		start--
	}
	calls := map[string]sdk.ToolCall{}
	for _, m := range msgs[:start] {
		for _, c := range m.ToolCalls {
			calls[c.ID] = c
		}
	}
	name := learnName(rs, msgs)
	var parts []string
	for _, m := range msgs[start:] {
		call, ok := calls[m.ToolCallID]
		if !ok {
			call = sdk.ToolCall{ID: m.ToolCallID, Name: "unknown"}
		}
		data := replyData{Name: name, Tool: call.Name, Result: strings.TrimSpace(m.Content)}
		tmpl := rs.toolOther
		switch {
		case m.IsError:
			data.Error = strings.TrimRight(strings.TrimSpace(m.Content), ".")
			if call.Name == toolCalculator {
				data.Expression, data.Spoken = calcArgs(call.Arguments)
			}
			tmpl = rs.toolError
		case call.Name == toolTime:
			fillTime(&data, m.Content)
			tmpl = rs.toolTime
		case call.Name == toolCalculator:
			data.Expression, data.Spoken = calcArgs(call.Arguments)
			data.Result = calcResult(m.Content)
			tmpl = rs.toolCalc
		case call.Name == toolEndSession:
			tmpl = rs.toolEnd
		case len(rs.toolReplies[call.Name]) > 0:
			tmpl = rs.toolReplies[call.Name][0]
		}
		text, err := render(tmpl, data)
		if err != nil {
			return turn{}, err
		}
		if text != "" {
			parts = append(parts, text)
		}
	}
	return turn{text: strings.Join(parts, " ")}, nil
}

// calcArgs reads the calculator call's expression and says it in words.
func calcArgs(args json.RawMessage) (expr, spoken string) {
	var in map[string]any
	if err := json.Unmarshal(args, &in); err != nil {
		return "", "that"
	}
	for _, v := range in {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if n, err := parseExpr(s); err == nil {
			return n.compact(), n.spoken()
		}
	}
	return "", "that"
}

// calcResult reads a calculator result: {"result": 42}, a bare number or
// any text.
func calcResult(content string) string {
	content = strings.TrimSpace(content)
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(content), &obj) == nil {
		for _, k := range []string{"result", "value", "answer"} {
			if raw, ok := obj[k]; ok {
				content = strings.Trim(string(raw), `"`)
				break
			}
		}
	}
	if v, err := strconv.ParseFloat(content, 64); err == nil {
		return formatNumber(v)
	}
	return content
}

// fillTime reads a time result ({"time": RFC 3339, "timezone": ...} as
// Parley's get_current_time returns, or a bare RFC 3339 string).
func fillTime(d *replyData, content string) {
	content = strings.TrimSpace(content)
	raw := content
	var obj map[string]string
	if json.Unmarshal([]byte(content), &obj) == nil {
		for _, k := range []string{"time", "datetime", "now", "current_time"} {
			if v, ok := obj[k]; ok {
				raw = v
				break
			}
		}
		d.Timezone = obj["timezone"]
	}
	t, err := time.Parse(time.RFC3339, strings.Trim(raw, `"`))
	if err != nil {
		d.Time = raw
		return
	}
	d.Time = t.Format("3:04 PM")
	d.Date = t.Format("Monday, January 2")
	d.Weekday = t.Weekday().String()
	if d.Timezone == "" {
		d.Timezone = t.Location().String()
	}
}

// render executes a reply template and tidies the text: single spaces, a
// capital first letter.
func render(t *template.Template, data replyData) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", &sdk.Error{Code: sdk.CodeInternal, Message: "reply template " + t.Name() + " failed", Err: err}
	}
	return capitalize(collapseSpaces(b.String())), nil
}

func collapseSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
