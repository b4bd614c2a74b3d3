package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
)

// doneMarker is the data of the event that ends a Chat Completions stream.
const doneMarker = "[DONE]"

// Finish reasons of Chat Completions.
const (
	finishStop         = "stop"
	finishToolCalls    = "tool_calls"
	finishFunctionCall = "function_call"
	finishLength       = "length"
)

// Wire types of stream chunks; only the fields Parley uses.
type (
	chunk struct {
		Choices []choice   `json:"choices"`
		Usage   *wireUsage `json:"usage"`
		// Error is OpenAI's {"error": {...}} shape.
		Error json.RawMessage `json:"error"`
		// Object, Message, Type and Code are the flat error shape of vLLM and
		// others: {"object": "error", "message", "type", "code": 400}.
		Object  string          `json:"object"`
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	choice struct {
		Index        int       `json:"index"`
		Delta        wireDelta `json:"delta"`
		FinishReason *string   `json:"finish_reason"`
	}
	wireDelta struct {
		Content   *string         `json:"content"`
		ToolCalls []toolCallDelta `json:"tool_calls"`
	}
	toolCallDelta struct {
		Index    *int   `json:"index"`
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	wireUsage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	}
	wireError struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
)

// pendingCall is a tool call being assembled from fragments.
type pendingCall struct {
	id   string
	name string
	args strings.Builder
}

// decoder turns Chat Completions chunks into sdk events. Tool calls are
// assembled by index and emitted when the choice finishes (or at [DONE]).
type decoder struct {
	emit   func(sdk.GenerateEvent) error
	calls  map[int]*pendingCall
	stop   sdk.StopReason
	usage  sdk.Usage
	called bool // tool calls were emitted
	done   bool
}

// newDecoder returns a decoder that passes events to emit.
func newDecoder(emit func(sdk.GenerateEvent) error) *decoder {
	return &decoder{emit: emit, calls: map[int]*pendingCall{}}
}

// finished reports whether Done was emitted.
func (d *decoder) finished() bool { return d.done }

// finishSeen reports whether a finish_reason arrived.
func (d *decoder) finishSeen() bool { return d.stop != "" }

// handle processes one SSE event.
func (d *decoder) handle(ev providerhttp.Event) error {
	data := bytes.TrimSpace(ev.Data)
	if string(data) == doneMarker {
		return d.finish()
	}
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return malformed("chunk is not valid JSON", err)
	}
	if err := chunkError(c); err != nil {
		return err
	}
	if c.Usage != nil {
		d.usage = sdk.Usage{InputTokens: c.Usage.PromptTokens, OutputTokens: c.Usage.CompletionTokens}
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // Parley asks for one choice
		}
		if err := d.handleChoice(ch); err != nil {
			return err
		}
	}
	return nil
}

// handleChoice emits text, accumulates tool-call fragments and, when the
// choice finishes, emits the assembled calls.
func (d *decoder) handleChoice(ch choice) error {
	if ch.Delta.Content != nil && *ch.Delta.Content != "" {
		if err := d.emit(sdk.GenerateEvent{TextDelta: *ch.Delta.Content}); err != nil {
			return err
		}
	}
	for pos, frag := range ch.Delta.ToolCalls {
		idx := pos
		if frag.Index != nil {
			idx = *frag.Index
		}
		call, ok := d.calls[idx]
		if !ok {
			call = &pendingCall{}
			d.calls[idx] = call
		}
		if call.id == "" {
			call.id = frag.ID
		}
		if call.name == "" {
			call.name = frag.Function.Name
		}
		call.args.WriteString(frag.Function.Arguments)
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		d.stop = finishReason(*ch.FinishReason)
		return d.flushCalls()
	}
	return nil
}

// flushCalls emits the assembled tool calls in index order.
func (d *decoder) flushCalls() error {
	indexes := make([]int, 0, len(d.calls))
	for i := range d.calls {
		indexes = append(indexes, i)
	}
	slices.Sort(indexes)
	for _, i := range indexes {
		call := d.calls[i]
		delete(d.calls, i)
		if call.name == "" {
			return malformed("tool call "+strconv.Itoa(i)+" has no function name", nil)
		}
		args := strings.TrimSpace(call.args.String())
		if args == "" {
			args = "{}"
		}
		if !json.Valid([]byte(args)) {
			return malformed("arguments of tool call "+call.name+" are not valid JSON", nil)
		}
		d.called = true
		if err := d.emit(sdk.GenerateEvent{ToolCall: &sdk.ToolCall{ID: call.id, Name: call.name, Arguments: json.RawMessage(args)}}); err != nil {
			return err
		}
	}
	return nil
}

// finish emits pending tool calls and Done.
func (d *decoder) finish() error {
	if err := d.flushCalls(); err != nil {
		return err
	}
	stop := d.stop
	if stop == "" {
		stop = sdk.StopEndTurn
		if d.called {
			stop = sdk.StopToolUse
		}
	}
	d.done = true
	return d.emit(sdk.GenerateEvent{Done: &sdk.Done{StopReason: stop, Usage: d.usage}})
}

// finishReason maps a Chat Completions finish_reason.
func finishReason(s string) sdk.StopReason {
	switch s {
	case finishStop:
		return sdk.StopEndTurn
	case finishToolCalls, finishFunctionCall:
		return sdk.StopToolUse
	case finishLength:
		return sdk.StopMaxTokens
	default: // content_filter and reasons added later
		return sdk.StopOther
	}
}

// chunkError returns the mapped error when a chunk carries one.
func chunkError(c chunk) error {
	var we wireError
	switch {
	case len(c.Error) > 0 && string(c.Error) != "null":
		var s string
		if json.Unmarshal(c.Error, &s) == nil {
			we.Message = s
		} else if err := json.Unmarshal(c.Error, &we); err != nil {
			return malformed("error chunk is not valid JSON", err)
		}
	case c.Object == "error":
		we = wireError{Message: c.Message, Type: c.Type, Code: c.Code}
	default:
		return nil
	}
	code := codeString(we.Code)
	typ := we.Type
	if typ == "" {
		typ = code
	}
	msg := we.Message
	if msg == "" {
		msg = typ
	}
	e := &sdk.Error{
		Code:    codeForError(typ, code),
		Message: providerName + ": " + msg,
		Details: map[string]string{providerhttp.DetailProvider: providerName},
	}
	if typ != "" {
		e.Details[providerhttp.DetailType] = typ
	}
	return e
}

// codeString returns an error code given as a JSON string or number.
func codeString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// codeForError maps an error type or code found in a stream. A numeric
// code is an HTTP status (vLLM); names follow OpenAI's error types and
// codes. Unknown errors are a provider-side failure.
func codeForError(typ, code string) sdk.Code {
	if status, err := strconv.Atoi(code); err == nil {
		return providerhttp.CodeForStatus(status)
	}
	for _, name := range []string{code, typ} {
		switch name {
		case "invalid_request_error", "BadRequestError", "context_length_exceeded", "invalid_value":
			return sdk.CodeInvalidArgument
		case "authentication_error", "invalid_api_key", "AuthenticationError":
			return sdk.CodeUnauthenticated
		case "permission_error", "PermissionDeniedError", "insufficient_permissions":
			return sdk.CodePermissionDenied
		case "not_found_error", "model_not_found", "NotFoundError":
			return sdk.CodeNotFound
		case "rate_limit_exceeded", "rate_limit_error", "insufficient_quota", "tokens", "requests", "RateLimitError":
			return sdk.CodeResourceExhausted
		}
	}
	return sdk.CodeUnavailable
}

// malformed reports a stream the plugin cannot make sense of. It is
// Unavailable: the server (or a proxy) broke the stream, a retry or the
// next plugin in the chain may succeed.
func malformed(what string, cause error) error {
	return providerhttp.Unavailable(providerName, "malformed stream: "+what, cause)
}
