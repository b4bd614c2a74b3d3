package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/clock"
)

// emptyParameters is the JSON Schema of a tool declared without one.
const emptyParameters = `{"type":"object","properties":{}}`

// Definition declares a tool the client runs.
type Definition struct {
	Name        string
	Description string
	// Parameters is a JSON Schema object; empty means no parameters.
	Parameters json.RawMessage
}

// Client is one session's client-side tools: a call is handed to the
// client (the session shows it as a tool call with LocationClient) and
// waits for the client's Deliver, or for the timeout. Safe for concurrent
// use: the session declares tools and delivers results from its own
// goroutine while a response goroutine waits in Call.
type Client struct {
	clock   clock.Clock
	timeout time.Duration

	mu      sync.Mutex
	defs    []sdk.Tool
	pending map[string]pendingCall
}

var _ Source = (*Client)(nil)

// NewClient returns a session's client tool source; timeout bounds the wait
// for each result (0: no bound but the call's context).
func NewClient(clk clock.Clock, timeout time.Duration) *Client {
	return &Client{clock: clk, timeout: timeout, pending: map[string]pendingCall{}}
}

// Declare replaces the client's tools.
func (c *Client) Declare(defs []Definition) {
	out := make([]sdk.Tool, 0, len(defs))
	for _, d := range defs {
		params := d.Parameters
		if len(params) == 0 {
			params = json.RawMessage(emptyParameters)
		}
		out = append(out, sdk.Tool{Name: d.Name, Description: d.Description, Parameters: params})
	}
	c.mu.Lock()
	c.defs = out
	c.mu.Unlock()
}

// Names returns the declared tool names in order.
func (c *Client) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.defs))
	for _, d := range c.defs {
		out = append(out, d.Name)
	}
	return out
}

// Tools implements Source.
func (c *Client) Tools() []sdk.Tool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sdk.Tool(nil), c.defs...)
}

// Has implements Source.
func (c *Client) Has(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.defs {
		if d.Name == name {
			return true
		}
	}
	return false
}

// Location implements Source.
func (*Client) Location() Location { return LocationClient }

// pendingCall is a call shown to the client: where its result goes and
// when the client's time to answer ends (counted from Expect).
type pendingCall struct {
	ch       chan Result
	deadline time.Time
}

// Expect registers call id before the call is shown to the client, so a
// result that comes back at once is kept for Call; the client's time to
// answer starts here.
func (c *Client) Expect(callID string) { c.slot(callID) }

func (c *Client) slot(callID string) pendingCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pending[callID]
	if !ok {
		p = pendingCall{ch: make(chan Result, 1), deadline: c.clock.Now().Add(c.timeout)}
		c.pending[callID] = p
	}
	return p
}

// Call implements Source: it waits for the client's result of call (see
// Expect). Errors: ErrTimeout, or ctx's error.
func (c *Client) Call(ctx context.Context, call sdk.ToolCall) (Result, error) {
	p := c.slot(call.ID)
	defer func() {
		c.mu.Lock()
		delete(c.pending, call.ID)
		c.mu.Unlock()
	}()
	var timer <-chan time.Time
	if c.timeout > 0 {
		at, stop := c.clock.At(p.deadline)
		defer stop()
		timer = at
	}
	select {
	case res := <-p.ch:
		return res, nil
	case <-timer:
		return Result{}, fmt.Errorf("%w: %s after %s", ErrTimeout, call.Name, c.timeout)
	case <-ctx.Done():
		return Result{}, fmt.Errorf("tools: client tool %s: %w", call.Name, ctx.Err())
	}
}

// Deliver hands the client's result of call id to the waiting Call; false
// if no call with that id is pending or it was answered already.
func (c *Client) Deliver(callID string, r Result) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pending[callID]
	if !ok {
		return false
	}
	select {
	case p.ch <- r:
		return true
	default:
		return false
	}
}
