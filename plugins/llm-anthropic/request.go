package main

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/parleyhq/parley/sdk"
)

// systemSeparator joins several system messages into the top-level system prompt.
const systemSeparator = "\n\n"

// emptySchema is the input_schema sent for a tool without parameters.
const emptySchema = `{"type":"object","properties":{}}`

// Wire types of the Messages API request.
type (
	messagesRequest struct {
		Model       string        `json:"model"`
		MaxTokens   int           `json:"max_tokens"`
		System      string        `json:"system,omitempty"`
		Messages    []wireMessage `json:"messages"`
		Tools       []wireTool    `json:"tools,omitempty"`
		Temperature *float32      `json:"temperature,omitempty"`
		Stream      bool          `json:"stream"`
	}
	wireMessage struct {
		Role    string      `json:"role"`
		Content []wireBlock `json:"content"`
	}
	// wireBlock is one content block: text, tool_use or tool_result.
	wireBlock struct {
		Type      string          `json:"type"`
		Text      string          `json:"text,omitempty"`
		ID        string          `json:"id,omitempty"`
		Name      string          `json:"name,omitempty"`
		Input     json.RawMessage `json:"input,omitempty"`
		ToolUseID string          `json:"tool_use_id,omitempty"`
		Content   *string         `json:"content,omitempty"`
		IsError   bool            `json:"is_error,omitempty"`
	}
	wireTool struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
)

// Content block types.
const (
	blockText       = "text"
	blockToolUse    = "tool_use"
	blockToolResult = "tool_result"
)

// Message roles of the Messages API.
const (
	wireRoleUser      = "user"
	wireRoleAssistant = "assistant"
)

// buildRequest maps a GenerateRequest onto a streaming Messages API body.
// System messages become the top-level system prompt; tool results become
// tool_result blocks of a user message, consecutive results sharing one.
func buildRequest(cfg config, req sdk.GenerateRequest) ([]byte, error) {
	out := messagesRequest{
		Model:       cfg.model,
		MaxTokens:   cfg.maxTokens,
		Temperature: cfg.temperature,
		Stream:      true,
		Messages:    []wireMessage{},
	}
	if req.MaxTokens > 0 {
		out.MaxTokens = req.MaxTokens
	}
	if req.Temperature != nil {
		out.Temperature = req.Temperature
	}
	var system []string
	for i, m := range req.Messages {
		switch m.Role {
		case sdk.RoleSystem:
			if m.Content != "" {
				system = append(system, m.Content)
			}
		case sdk.RoleUser:
			out.Messages = append(out.Messages, wireMessage{Role: wireRoleUser, Content: textBlocks(m.Content)})
		case sdk.RoleAssistant:
			blocks := textBlocks(m.Content)
			for j, tc := range m.ToolCalls {
				input, err := toolInput(tc.Arguments)
				if err != nil {
					return nil, invalidRequest(err, "messages[%d].tool_calls[%d] (%s): arguments are not a JSON object", i, j, tc.Name)
				}
				blocks = append(blocks, wireBlock{Type: blockToolUse, ID: tc.ID, Name: tc.Name, Input: input})
			}
			out.Messages = append(out.Messages, wireMessage{Role: wireRoleAssistant, Content: blocks})
		case sdk.RoleTool:
			content := m.Content
			block := wireBlock{Type: blockToolResult, ToolUseID: m.ToolCallID, Content: &content, IsError: m.IsError}
			if n := len(out.Messages); n > 0 && isToolResultMessage(out.Messages[n-1]) {
				out.Messages[n-1].Content = append(out.Messages[n-1].Content, block)
				continue
			}
			out.Messages = append(out.Messages, wireMessage{Role: wireRoleUser, Content: []wireBlock{block}})
		default:
			return nil, sdk.Errorf(sdk.CodeInvalidArgument, "%s: messages[%d]: unknown role %q", providerName, i, m.Role)
		}
	}
	out.System = strings.Join(system, systemSeparator)
	for i, t := range req.Tools {
		schema, err := toolSchema(t.Parameters)
		if err != nil {
			return nil, invalidRequest(err, "tools[%d] (%s): parameters are not a JSON object", i, t.Name)
		}
		out.Tools = append(out.Tools, wireTool{Name: t.Name, Description: t.Description, InputSchema: schema})
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

// textBlocks returns one text block, or none for empty text (the API
// rejects empty text blocks).
func textBlocks(text string) []wireBlock {
	if text == "" {
		return []wireBlock{}
	}
	return []wireBlock{{Type: blockText, Text: text}}
}

// isToolResultMessage reports whether m is a user message made only of tool results.
func isToolResultMessage(m wireMessage) bool {
	if m.Role != wireRoleUser || len(m.Content) == 0 {
		return false
	}
	for _, b := range m.Content {
		if b.Type != blockToolResult {
			return false
		}
	}
	return true
}

// toolInput validates tool-call arguments; empty means no arguments.
func toolInput(args json.RawMessage) (json.RawMessage, error) {
	return jsonObject(args, "{}")
}

// toolSchema validates a tool's JSON Schema; empty means no parameters.
func toolSchema(params json.RawMessage) (json.RawMessage, error) {
	return jsonObject(params, emptySchema)
}

// jsonObject returns raw compacted if it is a JSON object, def if it is
// empty, and an error otherwise.
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
