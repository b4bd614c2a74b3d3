package parleyv1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/tools"
)

// The client message types.
const (
	TypeSessionUpdate  = "session.update"
	TypeInputText      = "input.text"
	TypeResponseCancel = "response.cancel"
	TypeToolResult     = "tool.result"
	TypePing           = "ping"
)

// maxToolNameLen bounds a client tool name (providers accept 64).
const maxToolNameLen = 64

// vadUpdate is session.update's `vad` object.
type vadUpdate struct {
	MinSilenceMS *int     `json:"min_silence_ms"`
	MinSpeechMS  *int     `json:"min_speech_ms"`
	ThresholdDB  *float64 `json:"threshold_db"`
}

// turnUpdate is session.update's `turn` object.
type turnUpdate struct {
	CompleteDelayMS         *int  `json:"complete_delay_ms"`
	IncompleteDelayMS       *int  `json:"incomplete_delay_ms"`
	MinInterruptionWords    *int  `json:"min_interruption_words"`
	FalseInterruptionMS     *int  `json:"false_interruption_timeout_ms"`
	ResumeFalseInterruption *bool `json:"resume_false_interruption"`
	Preemptive              *bool `json:"preemptive"`
}

type toolDefinition struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

type sessionUpdate struct {
	InputSampleRate  *int             `json:"input_sample_rate"`
	OutputSampleRate *int             `json:"output_sample_rate"`
	SystemPrompt     *string          `json:"system_prompt"`
	Voice            *string          `json:"voice"`
	Language         *string          `json:"language"`
	Tools            []toolDefinition `json:"tools"`
	VAD              *vadUpdate       `json:"vad"`
	Turn             *turnUpdate      `json:"turn"`
	Recording        *bool            `json:"recording"`
}

type inputText struct {
	Text string `json:"text"`
}

type toolResult struct {
	CallID string `json:"call_id"`
	// Output is any JSON value; a string is passed to the model as is,
	// anything else as its JSON text.
	Output  json.RawMessage `json:"output"`
	IsError bool            `json:"is_error"`
}

type ping struct {
	ID string `json:"id"`
}

// Parse parses one JSON text message of the client protocol into the
// session command it asks for. Errors are *ProtocolError with a stable
// code. Unknown fields are ignored (forward compatibility); wrong field
// types are not.
func Parse(data []byte) (session.Command, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if !json.Valid(data) {
		return nil, protoErr(CodeInvalidJSON, "message is not valid JSON", nil)
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fieldError(err)
	}
	if head.Type == nil {
		return nil, protoErr(CodeInvalidMessage, "missing field: type", map[string]string{"field": "type"})
	}
	switch *head.Type {
	case TypeSessionUpdate:
		m, err := decode[sessionUpdate](data)
		if err != nil {
			return nil, err
		}
		return m.command()
	case TypeInputText:
		m, err := decode[inputText](data)
		if err != nil {
			return nil, err
		}
		if m.Text == "" {
			return nil, protoErr(CodeInvalidMessage, "input.text needs a non-empty text", map[string]string{"field": "text"})
		}
		return session.InputText{Text: m.Text}, nil
	case TypeResponseCancel:
		return session.Cancel{}, nil
	case TypeToolResult:
		m, err := decode[toolResult](data)
		if err != nil {
			return nil, err
		}
		if m.CallID == "" {
			return nil, protoErr(CodeInvalidMessage, "tool.result needs a call_id", map[string]string{"field": "call_id"})
		}
		return session.ToolResult{CallID: m.CallID, Output: outputText(m.Output), IsError: m.IsError}, nil
	case TypePing:
		m, err := decode[ping](data)
		if err != nil {
			return nil, err
		}
		return session.Ping{ID: m.ID}, nil
	}
	return nil, protoErr(CodeUnknownType, "unknown message type", map[string]string{"type": *head.Type})
}

// decode unmarshals a message of a known type; errors are *ProtocolError.
func decode[T any](data []byte) (*T, error) {
	var m T
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fieldError(err)
	}
	return &m, nil
}

// outputText returns a tool output as the text given to the model.
func outputText(raw json.RawMessage) string {
	out := bytes.TrimSpace(raw)
	if len(out) == 0 || bytes.Equal(out, []byte("null")) {
		return ""
	}
	var s string
	if out[0] == '"' && json.Unmarshal(out, &s) == nil {
		return s
	}
	return string(out)
}

// fieldError turns a json decoding error into a ProtocolError.
func fieldError(err error) *ProtocolError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(message)"
		}
		return protoErr(CodeInvalidMessage, fmt.Sprintf("field %s: expected %s, got %s", field, te.Type, te.Value),
			map[string]string{"field": field, "expected": te.Type.String(), "got": te.Value})
	}
	return protoErr(CodeInvalidMessage, "malformed message: "+err.Error(), nil)
}

func (m *sessionUpdate) command() (session.Command, error) {
	for _, r := range []struct {
		field string
		rate  *int
	}{{"input_sample_rate", m.InputSampleRate}, {"output_sample_rate", m.OutputSampleRate}} {
		if r.rate != nil && !session.SupportedSampleRate(*r.rate) {
			return nil, protoErr(session.CodeUnsupportedSampleRate, fmt.Sprintf("%s %d Hz is not supported (8000, 16000, 24000, 48000)", r.field, *r.rate),
				map[string]string{"field": r.field, "value": strconv.Itoa(*r.rate)})
		}
	}
	u := session.Update{
		InputRate: m.InputSampleRate, OutputRate: m.OutputSampleRate,
		SystemPrompt: m.SystemPrompt, Voice: m.Voice, Language: m.Language, Recording: m.Recording,
	}
	if m.Tools != nil {
		defs, err := toolDefinitions(m.Tools)
		if err != nil {
			return nil, err
		}
		u.Tools = defs
	}
	if m.VAD != nil {
		v, err := m.VAD.command()
		if err != nil {
			return nil, err
		}
		u.VAD = v
	}
	if t := m.Turn; t != nil {
		u.Turn = &session.TurnUpdate{
			CompleteDelay: msDuration(t.CompleteDelayMS), IncompleteDelay: msDuration(t.IncompleteDelayMS),
			FalseInterruptionTimeout: msDuration(t.FalseInterruptionMS), MinInterruptionWords: t.MinInterruptionWords,
			ResumeFalseInterruption: t.ResumeFalseInterruption, Preemptive: t.Preemptive,
		}
	}
	return u, nil
}

// msDuration converts optional milliseconds (the session checks limits).
func msDuration(p *int) *time.Duration {
	if p == nil {
		return nil
	}
	d := time.Duration(*p) * time.Millisecond
	return &d
}

func toolDefinitions(in []toolDefinition) ([]tools.Definition, error) {
	seen := make(map[string]bool, len(in))
	out := make([]tools.Definition, 0, len(in))
	for i, t := range in {
		field := fmt.Sprintf("tools[%d]", i)
		if len(t.Name) > maxToolNameLen || !tools.ValidName(t.Name) {
			return nil, protoErr(session.CodeInvalidField, "tool name must match [a-zA-Z0-9_-]{1,64}", map[string]string{"field": field + ".name"})
		}
		if seen[t.Name] {
			return nil, protoErr(session.CodeInvalidField, "duplicate tool name "+t.Name, map[string]string{"field": field + ".name"})
		}
		seen[t.Name] = true
		if len(t.Parameters) > 0 {
			p := bytes.TrimSpace(t.Parameters)
			if len(p) == 0 || p[0] != '{' {
				return nil, protoErr(session.CodeInvalidField, "tool parameters must be a JSON Schema object", map[string]string{"field": field + ".parameters"})
			}
		}
		out = append(out, tools.Definition{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
	}
	return out, nil
}

// command refuses values no server limit can allow; the session checks
// the configured limits.
func (v *vadUpdate) command() (*session.VADUpdate, error) {
	ms := msDuration
	if v.MinSilenceMS != nil && *v.MinSilenceMS < 0 {
		return nil, protoErr(session.CodeInvalidField, "vad.min_silence_ms must not be negative", map[string]string{"field": "vad.min_silence_ms"})
	}
	if v.MinSpeechMS != nil && *v.MinSpeechMS < 0 {
		return nil, protoErr(session.CodeInvalidField, "vad.min_speech_ms must not be negative", map[string]string{"field": "vad.min_speech_ms"})
	}
	if v.ThresholdDB != nil && *v.ThresholdDB <= 0 {
		return nil, protoErr(session.CodeInvalidField, "vad.threshold_db must be positive", map[string]string{"field": "vad.threshold_db"})
	}
	return &session.VADUpdate{MinSilence: ms(v.MinSilenceMS), MinSpeech: ms(v.MinSpeechMS), ThresholdDB: v.ThresholdDB}, nil
}
