package session

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// TestCommitHistoryCut: a response cut mid-way keeps completed tool rounds
// (calls with their results), the played part of the text, and nothing of
// what was not heard.
func TestCommitHistoryCut(t *testing.T) {
	call := sdk.ToolCall{ID: "c1", Name: "calculator", Arguments: json.RawMessage(`{}`)}
	result := sdk.Message{Role: sdk.RoleTool, ToolCallID: "c1", Content: "2"}
	text := "Let me see. It is two. Anything else?"
	//       0          11        22
	rounds := []roundRec{{start: 0, end: 12, calls: []sdk.ToolCall{call}, results: []sdk.Message{result}}}
	tests := []struct {
		name string
		cut  int
		want []sdk.Message
	}{
		{name: "cut in the second round", cut: 22, want: []sdk.Message{
			{Role: sdk.RoleAssistant, Content: "Let me see.", ToolCalls: []sdk.ToolCall{call}}, result,
			{Role: sdk.RoleAssistant, Content: "It is two."},
		}},
		{name: "cut before the tool call's text ended", cut: 6, want: []sdk.Message{
			{Role: sdk.RoleAssistant, Content: "Let me", ToolCalls: []sdk.ToolCall{call}}, result,
		}},
		{name: "nothing played", cut: 0, want: []sdk.Message{
			{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{call}}, result,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h history
			c := h.commit(text, rounds, tc.cut, false)
			assert.Equal(t, tc.want, h.msgs)
			assert.Equal(t, committed{at: 0, n: len(tc.want), cut: tc.cut}, c)
		})
	}
}

// TestHistoryRecut: a committed response can be cut shorter later (Truncate)
// while it is still in the history, also after cuts at the front; never
// longer.
func TestHistoryRecut(t *testing.T) {
	user := func(s string) sdk.Message { return sdk.Message{Role: sdk.RoleUser, Content: s} }
	agent := func(s string) sdk.Message { return sdk.Message{Role: sdk.RoleAssistant, Content: s} }
	text := "One two. Three four."
	rounds := []roundRec{{start: 0, end: len(text)}}
	h := history{limit: 3}
	h.append(user("a"))
	h.commit("Old.", []roundRec{{start: 0, end: 4}}, 4, true)
	h.append(user("b"))
	c := h.commit(text, rounds, len(text), true) // the limit drops the first turn
	require.Equal(t, []sdk.Message{user("b"), agent(text)}, h.msgs)
	require.Equal(t, 2, h.dropped)

	assert.True(t, h.recut(&c, text, rounds, len(text)+5), "never longer")
	assert.Equal(t, agent(text), h.msgs[1])
	require.True(t, h.recut(&c, text, rounds, 8))
	assert.Equal(t, []sdk.Message{user("b"), agent("One two.")}, h.msgs)
	h.append(user("c"), agent("x"), user("d"))
	assert.False(t, h.recut(&c, text, rounds, 0), "gone from the history")

	h = history{}
	c = h.commit(text, rounds, len(text), true)
	require.True(t, h.recut(&c, text, rounds, 0))
	assert.Empty(t, h.msgs, "nothing heard: no assistant message")
}
