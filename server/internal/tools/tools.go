// Package tools runs the tools an agent may call: the server's built-ins
// (time, calculator, end_session) and HTTP webhooks (Registry), and the
// tools a client declares and answers itself (Client). Each is a Source
// behind one small interface; the session offers a Set of sources to the
// LLM and calls through it. An MCP server is one more Source.
//
// The package knows nothing of transports, wire protocols or plugins.
package tools

import (
	"context"
	"fmt"
	"regexp"

	"github.com/parleyhq/parley/sdk"
)

// Location says who runs a tool.
type Location string

// The locations.
const (
	// LocationServer: Parley runs the tool (built-ins, webhooks, MCP).
	LocationServer Location = "server"
	// LocationClient: the client runs it and answers with its result.
	LocationClient Location = "client"
)

// Result is the outcome of one call as the model sees it.
type Result struct {
	// Output is the text given to the model.
	Output string
	// IsError says the tool reported a failure (Output says what).
	IsError bool
	// EndsSession asks the session to end once the reply has been spoken.
	EndsSession bool
}

// Source is one place tools come from.
type Source interface {
	// Tools returns the declarations offered to the LLM, in order.
	Tools() []sdk.Tool
	// Has reports whether the source declares a tool called name.
	Has(name string) bool
	// Location says who runs the source's tools.
	Location() Location
	// Call runs one call of a declared tool. A failure of the tool itself
	// is an error (the session reports it and gives the model its text);
	// ctx's error means the call was abandoned.
	Call(ctx context.Context, call sdk.ToolCall) (Result, error)
}

// namePattern is what providers accept as a tool name.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidName reports whether name is acceptable as a tool name to every
// LLM provider: 1 to 64 of [a-zA-Z0-9_-].
func ValidName(name string) bool { return namePattern.MatchString(name) }

// Set is an ordered list of sources; the first that has a name runs it.
type Set []Source

// Tools returns every source's declarations, in order.
func (s Set) Tools() []sdk.Tool {
	var out []sdk.Tool
	for _, src := range s {
		out = append(out, src.Tools()...)
	}
	return out
}

// Find returns the source that declares name.
func (s Set) Find(name string) (Source, bool) {
	for _, src := range s {
		if src.Has(name) {
			return src, true
		}
	}
	return nil, false
}

// Only narrows src to the tools named in names, in src's order; a name src
// does not declare is ignored.
func Only(src Source, names []string) Source { return only{src: src, names: names} }

type only struct {
	src   Source
	names []string
}

func (o only) allowed(name string) bool {
	for _, n := range o.names {
		if n == name {
			return true
		}
	}
	return false
}

func (o only) Tools() []sdk.Tool {
	var out []sdk.Tool
	for _, t := range o.src.Tools() {
		if o.allowed(t.Name) {
			out = append(out, t)
		}
	}
	return out
}

func (o only) Has(name string) bool { return o.allowed(name) && o.src.Has(name) }

func (o only) Location() Location { return o.src.Location() }

func (o only) Call(ctx context.Context, call sdk.ToolCall) (Result, error) {
	if !o.Has(call.Name) {
		return Result{}, fmt.Errorf("%w %s", ErrUnknownTool, call.Name)
	}
	return o.src.Call(ctx, call)
}

// Join makes one server-side Source of several (the Registry and MCP
// servers): declarations in order, a call runs on the first source that
// declares its name.
func Join(sources ...Source) Source { return joined(sources) }

type joined Set

func (j joined) Tools() []sdk.Tool { return Set(j).Tools() }

func (j joined) Has(name string) bool {
	_, ok := Set(j).Find(name)
	return ok
}

func (joined) Location() Location { return LocationServer }

func (j joined) Call(ctx context.Context, call sdk.ToolCall) (Result, error) {
	src, ok := Set(j).Find(call.Name)
	if !ok {
		return Result{}, fmt.Errorf("%w %s", ErrUnknownTool, call.Name)
	}
	return src.Call(ctx, call)
}
