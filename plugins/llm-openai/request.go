package main

import (
	"bytes"
	"encoding/json"

	"github.com/parleyhq/parley/sdk"
)

// emptySchema is the parameters schema sent for a tool without parameters.
const emptySchema = `{"type":"object","properties":{}}`

// toolErrorPrefix marks a failed tool result: Chat Completions has no
// is_error flag, so the model learns it from the content.
const toolErrorPrefix = "error: "

// toolTypeFunction is the only tool type of Chat Completions.
const toolTypeFunction = "function"

// Wire types of the Chat Completions request.
type (
	chatRequest struct {
		Model               string         `json:"model"`
		Messages            []wireMessage  `json:"messages"`
		Tools               []wireTool     `json:"tools,omitempty"`
		MaxTokens           *int           `json:"max_tokens,omitempty"`
		MaxCompletionTokens *int           `json:"max_completion_tokens,omitempty"`
		Temperature         *float32       `json:"temperature,omitempty"`
		Stream              bool           `json:"stream"`
		StreamOptions       *streamOptions `json:"stream_options,omitempty"`
	}
	streamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	}
	wireMessage struct {
		Role string `json:"role"`
		// Content is null for an assistant message that only calls tools.
		Content    *string        `json:"content"`
		ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
		ToolCallID string         `json:"tool_call_id,omitempty"`
	}
	wireToolCall struct {
		ID       string       `json:"id"`
		Type     string       `json:"type"`
		Function wireFunction `json:"function"`
	}
	wireFunction struct {
		Name string `json:"name"`
		// Arguments is a JSON object serialized as a string.
		Arguments string `json:"arguments"`
	}
	wireTool struct {
		Type     string      `json:"type"`
		Function wireToolDef `json:"function"`
	}
	wireToolDef struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters"`
	}
)

// buildRequest maps a GenerateRequest onto a streaming Chat Completions body.
func buildRequest(cfg config, req sdk.GenerateRequest) ([]byte, error) {
	out := chatRequest{
		Model:       cfg.model,
		Messages:    make([]wireMessage, 0, len(req.Messages)),
		Temperature: cfg.temperature,
		Stream:      true,
	}
	if cfg.includeUsage {
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	maxTokens := cfg.maxTokens
	if req.MaxTokens > 0 {
		maxTokens = req.MaxTokens
	}
	if cfg.maxTokensField == maxTokensField {
		out.MaxTokens = &maxTokens
	} else {
		out.MaxCompletionTokens = &maxTokens
	}
	if req.Temperature != nil {
		out.Temperature = req.Temperature
	}
	for i, m := range req.Messages {
		content := m.Content
		switch m.Role {
		case sdk.RoleSystem, sdk.RoleUser:
			out.Messages = append(out.Messages, wireMessage{Role: string(m.Role), Content: &content})
		case sdk.RoleAssistant:
			wm := wireMessage{Role: string(m.Role), Content: &content}
			if content == "" && len(m.ToolCalls) > 0 {
				wm.Content = nil
			}
			for j, tc := range m.ToolCalls {
				args, err := jsonObject(tc.Arguments, "{}")
				if err != nil {
					return nil, invalidRequest(err, "messages[%d].tool_calls[%d] (%s): arguments are not a JSON object", i, j, tc.Name)
				}
				wm.ToolCalls = append(wm.ToolCalls, wireToolCall{
					ID: tc.ID, Type: toolTypeFunction,
					Function: wireFunction{Name: tc.Name, Arguments: string(args)},
				})
			}
			out.Messages = append(out.Messages, wm)
		case sdk.RoleTool:
			if m.IsError {
				content = toolErrorPrefix + content
			}
			out.Messages = append(out.Messages, wireMessage{Role: string(m.Role), Content: &content, ToolCallID: m.ToolCallID})
		default:
			return nil, sdk.Errorf(sdk.CodeInvalidArgument, "%s: messages[%d]: unknown role %q", providerName, i, m.Role)
		}
	}
	for i, t := range req.Tools {
		schema, err := jsonObject(t.Parameters, emptySchema)
		if err != nil {
			return nil, invalidRequest(err, "tools[%d] (%s): parameters are not a JSON object", i, t.Name)
		}
		out.Tools = append(out.Tools, wireTool{
			Type:     toolTypeFunction,
			Function: wireToolDef{Name: t.Name, Description: t.Description, Parameters: schema},
		})
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "%s: encode request: %s", providerName, err.Error())
	}
	return body, nil
}

// invalidRequest returns an InvalidArgument error about the request.
func invalidRequest(cause error, format string, args ...any) *sdk.Error {
	e := sdk.Errorf(sdk.CodeInvalidArgument, providerName+": "+format, args...)
	e.Err = cause
	return e
}

// jsonObject returns raw compacted if it is a JSON object, def if it is
// empty or null, and an error otherwise.
func jsonObject(raw json.RawMessage, def string) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage(def), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
