package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
)

// defaultRulesYAML is rules.yaml, built in so the plugin works without a
// rules file.
//
//go:embed rules.yaml
var defaultRulesYAML []byte

// rulesVersion is the rules file format this plugin reads.
const rulesVersion = 1

// maxRulesBytes bounds a rules file.
const maxRulesBytes = 1 << 20

// Built-in tool-result replies used when a rules file leaves one out.
const (
	defaultTimeResult  = "It is {{.Time}}."
	defaultCalcResult  = "{{.Spoken}} is {{.Result}}."
	defaultEndResult   = "Goodbye!"
	defaultErrorResult = "Sorry, that did not work: {{.Error}}."
	defaultOtherResult = "The {{.Tool}} tool says: {{.Result}}"
)

// action is what a rule does once it matches.
type action string

// The rule actions.
const (
	actionReply      action = "reply"
	actionTime       action = "time"
	actionCalculate  action = "calculate"
	actionEndSession action = "end_session"
	actionRepeat     action = "repeat"
	actionRecall     action = "recall"
	// actionTool calls the rule's named tool (an MCP server's, a webhook)
	// with its templated arguments when the host offers it; replies are
	// said when it does not.
	actionTool action = "tool"
)

// Named groups rules use.
const (
	groupName = "name"
	groupExpr = "expr"
)

// ruleFile is the YAML form of a rules file.
type ruleFile struct {
	Version      int             `yaml:"version"`
	NamePatterns []string        `yaml:"name_patterns"`
	Fallback     []string        `yaml:"fallback"`
	ToolResults  toolResultsSpec `yaml:"tool_results"`
	Rules        []ruleSpec      `yaml:"rules"`
}

type toolResultsSpec struct {
	GetCurrentTime string `yaml:"get_current_time"`
	Calculator     string `yaml:"calculator"`
	EndSession     string `yaml:"end_session"`
	Error          string `yaml:"error"`
	Other          string `yaml:"other"`
}

type ruleSpec struct {
	Name         string     `yaml:"name"`
	Action       string     `yaml:"action"`
	Patterns     []string   `yaml:"patterns"`
	Keywords     [][]string `yaml:"keywords"`
	Replies      []string   `yaml:"replies"`
	ErrorReplies []string   `yaml:"error_replies"`
	EmptyReplies []string   `yaml:"empty_replies"`
	// Tool, Arguments and ResultReplies are for action tool: the tool's
	// name, its arguments (reply templates), and how to say its result
	// (.Result; default tool_results.other).
	Tool          string            `yaml:"tool"`
	Arguments     map[string]string `yaml:"arguments"`
	ResultReplies []string          `yaml:"result_replies"`
}

// ruleSet is a compiled, immutable rules file.
type ruleSet struct {
	namePatterns []*regexp.Regexp
	fallback     []*template.Template
	toolTime     *template.Template
	toolCalc     *template.Template
	toolEnd      *template.Template
	toolError    *template.Template
	toolOther    *template.Template
	rules        []rule
	arith        *arithmetic
	// toolReplies say the results of action-tool rules' tools, by tool name.
	toolReplies map[string][]*template.Template
}

// rule is one compiled rule.
type rule struct {
	name          string
	action        action
	patterns      []*regexp.Regexp
	keywords      [][]string
	replies       []*template.Template
	errorReplies  []*template.Template
	emptyReplies  []*template.Template
	tool          string
	arguments     map[string]*template.Template
	resultReplies []*template.Template
}

// defaultRules compiles the embedded rules.
func defaultRules() (*ruleSet, error) {
	return parseRules(defaultRulesYAML)
}

// parseRules decodes and compiles a rules file. Errors name the place in
// the file ("rules[3].patterns[0]: ...").
func parseRules(data []byte) (*ruleSet, error) {
	if len(data) > maxRulesBytes {
		return nil, fmt.Errorf("file is %d bytes, limit %d", len(data), maxRulesBytes)
	}
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("file is empty")
		}
		return nil, fmt.Errorf("not a valid rules file: %w", err)
	}
	if f.Version != rulesVersion {
		return nil, fmt.Errorf("version: %d is not supported (want %d)", f.Version, rulesVersion)
	}
	rs := &ruleSet{arith: newArithmetic(), toolReplies: map[string][]*template.Template{}}
	var err error
	for i, p := range f.NamePatterns {
		re, err := compilePattern(p, groupName)
		if err != nil {
			return nil, fmt.Errorf("name_patterns[%d]: %w", i, err)
		}
		rs.namePatterns = append(rs.namePatterns, re)
	}
	if len(f.Fallback) == 0 {
		return nil, errors.New("fallback: at least one reply is required")
	}
	if rs.fallback, err = compileTemplates("fallback", f.Fallback); err != nil {
		return nil, err
	}
	tr := f.ToolResults
	for _, t := range []struct {
		dst        **template.Template
		name, text string
		def        string
	}{
		{&rs.toolTime, "tool_results.get_current_time", tr.GetCurrentTime, defaultTimeResult},
		{&rs.toolCalc, "tool_results.calculator", tr.Calculator, defaultCalcResult},
		{&rs.toolEnd, "tool_results.end_session", tr.EndSession, defaultEndResult},
		{&rs.toolError, "tool_results.error", tr.Error, defaultErrorResult},
		{&rs.toolOther, "tool_results.other", tr.Other, defaultOtherResult},
	} {
		text := t.text
		if text == "" {
			text = t.def
		}
		if *t.dst, err = compileTemplate(t.name, text); err != nil {
			return nil, err
		}
	}
	if len(f.Rules) == 0 {
		return nil, errors.New("rules: at least one rule is required")
	}
	for i, spec := range f.Rules {
		r, err := compileRule(spec)
		if err != nil {
			return nil, fmt.Errorf("rules[%d] (%s).%w", i, spec.Name, err)
		}
		rs.rules = append(rs.rules, r)
		if r.tool != "" && len(r.resultReplies) > 0 {
			rs.toolReplies[r.tool] = r.resultReplies
		}
	}
	return rs, nil
}

// fieldError is an error about one field of a rule.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func compileRule(spec ruleSpec) (rule, error) {
	r := rule{name: spec.Name, action: action(spec.Action)}
	if r.action == "" {
		r.action = actionReply
	}
	switch r.action {
	case actionReply, actionTime, actionCalculate, actionEndSession, actionRepeat, actionRecall:
		if spec.Tool != "" || len(spec.Arguments) > 0 || len(spec.ResultReplies) > 0 {
			return rule{}, &fieldError{"tool", errors.New("tool, arguments and result_replies are for action tool")}
		}
	case actionTool:
		if spec.Tool == "" {
			return rule{}, &fieldError{"tool", errors.New("action tool needs the tool's name")}
		}
		r.tool = spec.Tool
		r.arguments = make(map[string]*template.Template, len(spec.Arguments))
		for k, v := range spec.Arguments {
			t, err := compileTemplate("arguments."+k, v)
			if err != nil {
				return rule{}, err
			}
			r.arguments[k] = t
		}
	default:
		return rule{}, &fieldError{"action", fmt.Errorf("unknown action %q", spec.Action)}
	}
	if len(spec.Patterns) == 0 && len(spec.Keywords) == 0 {
		return rule{}, &fieldError{"patterns", errors.New("a rule needs patterns or keywords")}
	}
	need := ""
	if r.action == actionCalculate {
		need = groupExpr
	}
	for i, p := range spec.Patterns {
		re, err := compilePattern(p, need)
		if err != nil {
			return rule{}, &fieldError{fmt.Sprintf("patterns[%d]", i), err}
		}
		r.patterns = append(r.patterns, re)
	}
	for i, set := range spec.Keywords {
		if len(set) == 0 {
			return rule{}, &fieldError{fmt.Sprintf("keywords[%d]", i), errors.New("empty keyword set")}
		}
		words := make([]string, 0, len(set))
		for _, w := range set {
			w = strings.ToLower(strings.TrimSpace(w))
			if w == "" {
				return rule{}, &fieldError{fmt.Sprintf("keywords[%d]", i), errors.New("empty keyword")}
			}
			words = append(words, w)
		}
		r.keywords = append(r.keywords, words)
	}
	if len(spec.Replies) == 0 {
		return rule{}, &fieldError{"replies", errors.New("at least one reply is required")}
	}
	var err error
	if r.replies, err = compileTemplates("replies", spec.Replies); err != nil {
		return rule{}, err
	}
	if r.errorReplies, err = compileTemplates("error_replies", spec.ErrorReplies); err != nil {
		return rule{}, err
	}
	if r.resultReplies, err = compileTemplates("result_replies", spec.ResultReplies); err != nil {
		return rule{}, err
	}
	if r.emptyReplies, err = compileTemplates("empty_replies", spec.EmptyReplies); err != nil {
		return rule{}, err
	}
	return r, nil
}

// compilePattern compiles a case-insensitive pattern that must have the
// named group need (when need is set).
func compilePattern(p, need string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("(?i)" + p)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression: %w", err)
	}
	if need != "" && re.SubexpIndex(need) < 0 {
		return nil, fmt.Errorf("pattern %q needs a named group (?P<%s>...)", p, need)
	}
	return re, nil
}

func compileTemplates(field string, texts []string) ([]*template.Template, error) {
	out := make([]*template.Template, 0, len(texts))
	for i, text := range texts {
		t, err := compileTemplate(fmt.Sprintf("%s[%d]", field, i), text)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// compileTemplate parses a reply template and runs it once on sample data,
// so that unknown fields fail when the file is loaded, not mid-call.
func compileTemplate(field, text string) (*template.Template, error) {
	t, err := template.New(field).Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, &fieldError{field, fmt.Errorf("bad template: %w", err)}
	}
	if err := t.Execute(io.Discard, sampleReplyData()); err != nil {
		return nil, &fieldError{field, fmt.Errorf("bad template: %w", err)}
	}
	return t, nil
}
