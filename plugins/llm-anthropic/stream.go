package main

import (
	"encoding/json"
	"strings"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
)

// Stream event types of the Messages API
// (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
const (
	eventMessageStart      = "message_start"
	eventContentBlockStart = "content_block_start"
	eventContentBlockDelta = "content_block_delta"
	eventContentBlockStop  = "content_block_stop"
	eventMessageDelta      = "message_delta"
	eventMessageStop       = "message_stop"
	eventPing              = "ping"
	eventError             = "error"
)

// Delta types of content_block_delta.
const (
	deltaText      = "text_delta"
	deltaInputJSON = "input_json_delta"
)

// Provider error types (https://docs.anthropic.com/en/api/errors).
const (
	apiErrInvalidRequest  = "invalid_request_error"
	apiErrAuthentication  = "authentication_error"
	apiErrPermission      = "permission_error"
	apiErrNotFound        = "not_found_error"
	apiErrRequestTooLarge = "request_too_large"
	apiErrRateLimit       = "rate_limit_error"
	apiErrAPI             = "api_error"
	apiErrOverloaded      = "overloaded_error"
)

// Wire types of stream events; only the fields Parley uses.
type (
	streamEvent struct {
		Type         string            `json:"type"`
		Index        int               `json:"index"`
		Message      *wireMessageStart `json:"message"`
		ContentBlock *wireBlock        `json:"content_block"`
		Delta        *wireDelta        `json:"delta"`
		Usage        *wireUsage        `json:"usage"`
		Error        *wireError        `json:"error"`
	}
	wireMessageStart struct {
		Usage wireUsage `json:"usage"`
	}
	wireDelta struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	}
	wireUsage struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	}
	wireError struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
)

// toolBlock is a tool_use content block being assembled.
type toolBlock struct {
	id   string
	name string
	// initial is the input given in content_block_start; the API sends {}
	// there and streams the real input as deltas, but a complete input
	// without deltas is honoured too.
	initial json.RawMessage
	args    strings.Builder
}

// decoder turns Messages API stream events into sdk events.
type decoder struct {
	emit  func(sdk.GenerateEvent) error
	tools map[int]*toolBlock
	stop  sdk.StopReason
	usage sdk.Usage
	done  bool
}

// newDecoder returns a decoder that passes events to emit.
func newDecoder(emit func(sdk.GenerateEvent) error) *decoder {
	return &decoder{emit: emit, tools: map[int]*toolBlock{}}
}

// finished reports whether message_stop was seen.
func (d *decoder) finished() bool { return d.done }

// handle processes one SSE event. Unknown event and block types are
// ignored so that new API features do not break old plugins.
func (d *decoder) handle(ev providerhttp.Event) error {
	var se streamEvent
	if err := json.Unmarshal(ev.Data, &se); err != nil {
		return malformed("event "+ev.Event+" is not valid JSON", err)
	}
	typ := ev.Event
	if typ == "" {
		typ = se.Type
	}
	switch typ {
	case eventMessageStart:
		if se.Message != nil {
			d.usage.InputTokens = se.Message.Usage.InputTokens
			d.usage.OutputTokens = se.Message.Usage.OutputTokens
		}
	case eventContentBlockStart:
		return d.blockStart(se)
	case eventContentBlockDelta:
		return d.blockDelta(se)
	case eventContentBlockStop:
		return d.blockStop(se.Index)
	case eventMessageDelta:
		if se.Delta != nil && se.Delta.StopReason != "" {
			d.stop = stopReason(se.Delta.StopReason)
		}
		if se.Usage != nil {
			// message_delta usage is cumulative.
			d.usage.OutputTokens = se.Usage.OutputTokens
			if se.Usage.InputTokens > 0 {
				d.usage.InputTokens = se.Usage.InputTokens
			}
		}
	case eventMessageStop:
		if len(d.tools) > 0 {
			return malformed("message_stop before content_block_stop of a tool_use block", nil)
		}
		d.done = true
		stop := d.stop
		if stop == "" {
			stop = sdk.StopOther
		}
		return d.emit(sdk.GenerateEvent{Done: &sdk.Done{StopReason: stop, Usage: d.usage}})
	case eventError:
		return streamError(se.Error)
	case eventPing:
	}
	return nil
}

// blockStart opens a content block: text may carry initial text, tool_use
// starts a tool call; other block types are ignored.
func (d *decoder) blockStart(se streamEvent) error {
	b := se.ContentBlock
	if b == nil {
		return malformed("content_block_start without content_block", nil)
	}
	switch b.Type {
	case blockText:
		if b.Text != "" {
			return d.emit(sdk.GenerateEvent{TextDelta: b.Text})
		}
	case blockToolUse:
		if b.ID == "" || b.Name == "" {
			return malformed("tool_use block without id or name", nil)
		}
		d.tools[se.Index] = &toolBlock{id: b.ID, name: b.Name, initial: b.Input}
	}
	return nil
}

// blockDelta emits text or accumulates a tool call's input JSON.
func (d *decoder) blockDelta(se streamEvent) error {
	if se.Delta == nil {
		return malformed("content_block_delta without delta", nil)
	}
	switch se.Delta.Type {
	case deltaText:
		if se.Delta.Text != "" {
			return d.emit(sdk.GenerateEvent{TextDelta: se.Delta.Text})
		}
	case deltaInputJSON:
		tb, ok := d.tools[se.Index]
		if !ok {
			return malformed("input_json_delta for a block that is not a tool_use", nil)
		}
		tb.args.WriteString(se.Delta.PartialJSON)
	}
	return nil
}

// blockStop emits the tool call a tool_use block assembled.
func (d *decoder) blockStop(index int) error {
	tb, ok := d.tools[index]
	if !ok {
		return nil
	}
	delete(d.tools, index)
	args := strings.TrimSpace(tb.args.String())
	if args == "" {
		args = strings.TrimSpace(string(tb.initial))
	}
	if args == "" || args == "null" {
		args = "{}"
	}
	if !json.Valid([]byte(args)) {
		return malformed("tool_use "+tb.name+" input is not valid JSON", nil)
	}
	return d.emit(sdk.GenerateEvent{ToolCall: &sdk.ToolCall{ID: tb.id, Name: tb.name, Arguments: json.RawMessage(args)}})
}

// stopReason maps the API's stop_reason.
func stopReason(s string) sdk.StopReason {
	switch s {
	case "end_turn", "stop_sequence":
		return sdk.StopEndTurn
	case "tool_use":
		return sdk.StopToolUse
	case "max_tokens":
		return sdk.StopMaxTokens
	default:
		return sdk.StopOther
	}
}

// streamError maps an `error` event sent after the stream began.
func streamError(e *wireError) error {
	if e == nil {
		e = &wireError{Type: apiErrAPI, Message: "error event without details"}
	}
	msg := e.Message
	if msg == "" {
		msg = e.Type
	}
	return &sdk.Error{
		Code:    codeForErrorType(e.Type),
		Message: providerName + ": " + msg,
		Details: map[string]string{
			providerhttp.DetailProvider: providerName,
			providerhttp.DetailType:     e.Type,
		},
	}
}

// codeForErrorType maps an Anthropic error type to an sdk code. Unknown
// types are treated as a provider-side failure.
func codeForErrorType(typ string) sdk.Code {
	switch typ {
	case apiErrInvalidRequest, apiErrRequestTooLarge:
		return sdk.CodeInvalidArgument
	case apiErrAuthentication:
		return sdk.CodeUnauthenticated
	case apiErrPermission:
		return sdk.CodePermissionDenied
	case apiErrNotFound:
		return sdk.CodeNotFound
	case apiErrRateLimit:
		return sdk.CodeResourceExhausted
	case apiErrAPI, apiErrOverloaded:
		return sdk.CodeUnavailable
	default:
		return sdk.CodeUnavailable
	}
}

// malformed reports a stream the plugin cannot make sense of. It is
// Unavailable: the provider (or a proxy) broke the stream, a retry or the
// next plugin in the chain may succeed.
func malformed(what string, cause error) error {
	return providerhttp.Unavailable(providerName, "malformed stream: "+what, cause)
}
