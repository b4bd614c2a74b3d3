package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/tools"
)

// runTools runs one round's tool calls and returns their results.
func (r *response) runTools(ctx context.Context, calls []sdk.ToolCall) ([]sdk.Message, error) {
	results := make([]sdk.Message, 0, len(calls))
	for _, c := range calls {
		content, isErr, err := r.runTool(ctx, c)
		if err != nil {
			return nil, err
		}
		results = append(results, sdk.Message{Role: sdk.RoleTool, ToolCallID: c.ID, Content: content, IsError: isErr})
	}
	return results, nil
}

// runTool runs one call through the response's tool set. Failures are
// shown to the client as error events and given to the model as the
// call's (error) result; only the response's end aborts the round.
func (r *response) runTool(ctx context.Context, c sdk.ToolCall) (content string, isErr bool, err error) {
	src, found := r.tools.Find(c.Name)
	location := tools.LocationServer
	if found {
		location = src.Location()
	}
	ctx, span := r.startToolSpan(ctx, c.Name, location)
	outcome, terr := toolOK, error(nil)
	defer func() {
		if err != nil {
			outcome, terr = toolError, err
		}
		endToolSpan(span, outcome, terr)
	}()
	if !json.Valid(c.Arguments) {
		outcome = toolBadArgs
		r.out.emit(NewError(CodeToolFailed, "the model sent arguments that are not JSON", map[string]string{"name": c.Name, "call_id": c.ID}))
		return "tool arguments must be a JSON object", true, nil
	}
	if location == tools.LocationClient {
		r.s.client.Expect(c.ID) // before the client can see the call
	}
	r.out.emit(ToolCall{ResponseID: r.id, CallID: c.ID, Name: c.Name, Arguments: c.Arguments, Location: location})
	if !found {
		outcome = toolUnknown
		r.out.emit(NewError(CodeToolFailed, "the model called an unknown tool", map[string]string{"name": c.Name}))
		return "unknown tool " + c.Name, true, nil
	}
	res, cerr := src.Call(ctx, c)
	terr = cerr
	switch {
	case ctx.Err() != nil:
		return "", false, fmt.Errorf("session: tool %s: %w", c.Name, ctx.Err())
	case errors.Is(terr, tools.ErrTimeout):
		outcome = toolTimeout
		r.out.emit(NewError(CodeToolTimeout, "client tool did not answer in time", map[string]string{"call_id": c.ID, "name": c.Name}))
		return "the client did not answer in time", true, nil
	case terr != nil:
		outcome = toolError
		// A webhook's error can name internal hosts: only the log and the
		// model (which needs the reason) see it, not the client.
		r.s.log.Warn("tool call failed", "tool", c.Name, "call_id", c.ID, "error", terr)
		r.out.emit(NewError(CodeToolFailed, "the tool "+c.Name+" failed", map[string]string{"name": c.Name, "call_id": c.ID}))
		return terr.Error(), true, nil
	}
	if res.IsError {
		outcome = toolError
	}
	if res.EndsSession {
		r.mu.Lock()
		r.endSession = true
		r.mu.Unlock()
	}
	return res.Output, res.IsError, nil
}
