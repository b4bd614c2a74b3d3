package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/parleyhq/parley/sdk"
)

// Plugin identity.
const (
	pluginName    = "llm-rules"
	pluginVersion = "0.1.0"
)

// Setting defaults and limits.
const (
	defaultWordsPerDelta = 1
	minWordsPerDelta     = 1
	maxWordsPerDelta     = 100
	defaultDeltaDelay    = 0
	maxDeltaDelayMS      = 2000
)

// settings are the plugin's own options.
type settings struct {
	// RulesFile is a YAML rules file; empty means the built-in rules.
	RulesFile string `json:"rules_file"`
	// WordsPerDelta is how many words each streamed text delta carries.
	WordsPerDelta int `json:"words_per_delta"`
	// DeltaDelayMS pauses between deltas (0 = none), to mimic a model's
	// pace in demos and tests of barge-in.
	DeltaDelayMS int `json:"delta_delay_ms"`
}

// Engine is the rule-based LLM plugin. It is safe for concurrent use.
type Engine struct {
	logger *slog.Logger

	mu    sync.RWMutex
	cfg   settings
	rules *ruleSet
}

var _ sdk.LLM = (*Engine)(nil)

// NewEngine returns an Engine with the built-in rules.
func NewEngine(logger *slog.Logger) (*Engine, error) {
	rs, err := defaultRules()
	if err != nil {
		return nil, fmt.Errorf("llm-rules: built-in rules: %w", err)
	}
	return &Engine{
		logger: logger,
		cfg:    settings{WordsPerDelta: defaultWordsPerDelta, DeltaDelayMS: defaultDeltaDelay},
		rules:  rs,
	}, nil
}

// Info implements sdk.Plugin.
func (e *Engine) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:         pluginName,
		Version:      pluginVersion,
		Kind:         sdk.KindLLM,
		Capabilities: []string{"streaming", "tools", "offline", "deterministic", "rule_based"},
	}, nil
}

// Configure implements sdk.Plugin: rules_file, words_per_delta,
// delta_delay_ms (see README). A bad rules file is rejected with an
// InvalidArgument error naming rules_file and the place in the file.
func (e *Engine) Configure(_ context.Context, raw json.RawMessage) error {
	s := settings{WordsPerDelta: defaultWordsPerDelta, DeltaDelayMS: defaultDeltaDelay}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return decodeError(err)
		}
	}
	if s.WordsPerDelta < minWordsPerDelta || s.WordsPerDelta > maxWordsPerDelta {
		return sdk.InvalidField("words_per_delta", "%d is outside [%d, %d]", s.WordsPerDelta, minWordsPerDelta, maxWordsPerDelta)
	}
	if s.DeltaDelayMS < 0 || s.DeltaDelayMS > maxDeltaDelayMS {
		return sdk.InvalidField("delta_delay_ms", "%d is outside [0, %d]", s.DeltaDelayMS, maxDeltaDelayMS)
	}
	rs, err := loadRules(s.RulesFile)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.cfg, e.rules = s, rs
	e.mu.Unlock()
	e.logger.Info("llm-rules configured", "rules_file", s.RulesFile, "rules", len(rs.rules))
	return nil
}

// loadRules reads and compiles the rules file at path, or the built-in
// rules when path is empty.
func loadRules(path string) (*ruleSet, error) {
	if path == "" {
		rs, err := defaultRules()
		if err != nil {
			return nil, &sdk.Error{Code: sdk.CodeInternal, Message: "built-in rules do not compile", Err: err}
		}
		return rs, nil
	}
	f, err := os.Open(path)
	if err != nil {
		e := sdk.InvalidField("rules_file", "cannot read %q", path)
		e.Err = err
		return nil, e
	}
	defer f.Close() //nolint:errcheck // read-only file.
	data, err := io.ReadAll(io.LimitReader(f, maxRulesBytes+1))
	if err != nil {
		e := sdk.InvalidField("rules_file", "cannot read %q", path)
		e.Err = err
		return nil, e
	}
	rs, err := parseRules(data)
	if err != nil {
		e := sdk.InvalidField("rules_file", "%s: %s", path, err.Error())
		e.Err = err
		return nil, e
	}
	return rs, nil
}

// decodeError turns a JSON decoding error into an InvalidArgument error
// naming the offending field when it can.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		e := sdk.InvalidField(typeErr.Field, "wrong type: want %s", typeErr.Type)
		e.Err = err
		return e
	}
	const unknownPrefix = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknownPrefix) {
		return sdk.InvalidField(strings.Trim(strings.TrimPrefix(msg, unknownPrefix), `"`), "unknown setting")
	}
	e := sdk.InvalidField("settings", "not a JSON object of settings")
	e.Err = err
	return e
}

// Generate implements sdk.LLM. The answer is decided at once (rules are
// cheap); it is then streamed as text deltas of words_per_delta words,
// followed by at most one tool call and Done. Tokens are counted as
// whitespace-separated words; a tool call counts as one output token.
func (e *Engine) Generate(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	s, rs := e.cfg, e.rules
	e.mu.RUnlock()
	t, err := respond(rs, req)
	if err != nil {
		return nil, err
	}
	input := 0
	for _, m := range req.Messages {
		input += countWords(m.Content)
	}
	delay := time.Duration(s.DeltaDelayMS) * time.Millisecond
	return sdk.NewLLMStream(ctx, func(ctx context.Context, emit func(sdk.GenerateEvent) error) error {
		deltas := splitDeltas(t.text, s.WordsPerDelta)
		stop := sdk.StopEndTurn
		out := 0
		for i, d := range deltas {
			n := countWords(d)
			if req.MaxTokens > 0 && out+n > req.MaxTokens {
				d, n = firstWords(d, req.MaxTokens-out), req.MaxTokens-out
				stop = sdk.StopMaxTokens
			}
			if i > 0 && delay > 0 {
				if err := sleep(ctx, delay); err != nil {
					return err
				}
			}
			if d != "" {
				if err := emit(sdk.GenerateEvent{TextDelta: d}); err != nil {
					return err
				}
			}
			out += n
			if stop == sdk.StopMaxTokens {
				break
			}
		}
		if t.call != nil && stop != sdk.StopMaxTokens {
			if err := emit(sdk.GenerateEvent{ToolCall: t.call}); err != nil {
				return err
			}
			out++
			stop = sdk.StopToolUse
		}
		return emit(sdk.GenerateEvent{Done: &sdk.Done{StopReason: stop, Usage: sdk.Usage{InputTokens: input, OutputTokens: out}}})
	}), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// countWords counts whitespace-separated words: the plugin's "tokens".
func countWords(s string) int { return len(strings.Fields(s)) }

// splitDeltas cuts text into pieces of n words each. A piece starts with
// the white space before its first word ("Hello", " there!"), so the
// pieces joined give text back exactly.
func splitDeltas(text string, n int) []string {
	var out []string
	start, words := 0, 0
	inWord := false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			if words == n {
				out = append(out, text[start:lastSpaceRunStart(text, i)])
				start = lastSpaceRunStart(text, i)
				words = 0
			}
			words++
		}
		inWord = !space
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// lastSpaceRunStart returns where the white space run ending at i starts.
func lastSpaceRunStart(text string, i int) int {
	j := i
	for j > 0 && unicode.IsSpace(rune(text[j-1])) {
		j--
	}
	return j
}

// firstWords returns the first n words of s with their leading space.
func firstWords(s string, n int) string {
	if n <= 0 {
		return ""
	}
	parts := splitDeltas(s, 1)
	return strings.Join(parts[:min(n, len(parts))], "")
}
