package tools_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/tools"
)

func TestClientTools(t *testing.T) {
	clk := sessiontest.NewManualClock(time.Unix(0, 0))
	c := tools.NewClient(clk, 5*time.Second)
	c.Declare([]tools.Definition{{Name: "ask_user", Description: "Ask"}, {Name: "lookup"}})
	assert.Equal(t, []string{"ask_user", "lookup"}, c.Names())
	assert.True(t, c.Has("lookup"))
	assert.False(t, c.Has("calculator"))
	assert.JSONEq(t, `{"type":"object","properties":{}}`, string(c.Tools()[0].Parameters))
	assert.Equal(t, tools.LocationClient, c.Location())

	// A result delivered before Call starts waiting is kept.
	c.Expect("c1")
	require.True(t, c.Deliver("c1", tools.Result{Output: "yes"}))
	assert.False(t, c.Deliver("c1", tools.Result{Output: "twice"}), "a second answer is refused")
	res, err := c.Call(context.Background(), sdk.ToolCall{ID: "c1", Name: "ask_user"})
	require.NoError(t, err)
	assert.Equal(t, "yes", res.Output)
	assert.False(t, c.Deliver("c1", tools.Result{}), "answered calls are no longer pending")
	assert.False(t, c.Deliver("nope", tools.Result{}))

	// No answer: ErrTimeout once the clock passes the timeout.
	done := make(chan error, 1)
	c.Expect("c2")
	go func() {
		_, err := c.Call(context.Background(), sdk.ToolCall{ID: "c2", Name: "ask_user"})
		done <- err
	}()
	require.Eventually(t, func() bool { clk.Advance(time.Second); return len(done) == 1 }, 5*time.Second, time.Millisecond)
	assert.ErrorIs(t, <-done, tools.ErrTimeout)

	// A cancelled call returns the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Call(ctx, sdk.ToolCall{ID: "c3", Name: "lookup"})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSetFind(t *testing.T) {
	reg, err := tools.NewRegistry(config.Tools{Builtin: []string{tools.ToolCalculator}}, clock.System{}, nil)
	require.NoError(t, err)
	c := tools.NewClient(sessiontest.NewManualClock(time.Unix(0, 0)), 0)
	c.Declare([]tools.Definition{{Name: "ask_user"}})
	set := tools.Set{reg, c}
	names := []string{}
	for _, d := range set.Tools() {
		names = append(names, d.Name)
	}
	assert.Equal(t, []string{"calculator", "ask_user"}, names)
	src, ok := set.Find("ask_user")
	require.True(t, ok)
	assert.Equal(t, tools.LocationClient, src.Location())
	src, ok = set.Find("calculator")
	require.True(t, ok)
	assert.Equal(t, tools.LocationServer, src.Location())
	_, ok = set.Find("missing")
	assert.False(t, ok)
	_, err = reg.Call(context.Background(), sdk.ToolCall{Name: "missing"})
	assert.ErrorIs(t, err, tools.ErrUnknownTool)
	assert.True(t, tools.ValidName("a_b-9"))
	assert.False(t, tools.ValidName("no spaces"))
}

// TestOnly: a narrowed source offers, has and runs only the named tools.
func TestOnly(t *testing.T) {
	reg, err := tools.NewRegistry(config.Tools{Builtin: []string{tools.ToolCalculator, tools.ToolEndSession}}, clock.System{}, nil)
	require.NoError(t, err)
	narrow := tools.Only(reg, []string{tools.ToolCalculator, "not_a_tool"})
	require.Len(t, narrow.Tools(), 1)
	assert.Equal(t, tools.ToolCalculator, narrow.Tools()[0].Name)
	assert.True(t, narrow.Has(tools.ToolCalculator))
	assert.False(t, narrow.Has(tools.ToolEndSession))
	assert.False(t, narrow.Has("not_a_tool"))
	_, err = narrow.Call(context.Background(), sdk.ToolCall{Name: tools.ToolEndSession})
	assert.ErrorIs(t, err, tools.ErrUnknownTool)
	res, err := narrow.Call(context.Background(), sdk.ToolCall{Name: tools.ToolCalculator, Arguments: []byte(`{"expression":"6*7"}`)})
	require.NoError(t, err)
	assert.Equal(t, `{"result":42}`, res.Output)
}
