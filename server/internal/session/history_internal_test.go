package session

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
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
			s := &Session{m: &Manager{cfg: config.Session{}}}
			r := &response{rounds: append([]roundRec(nil), rounds...)}
			r.text.WriteString(text)
			s.commitHistory(r, tc.cut, false)
			assert.Equal(t, tc.want, s.history)
		})
	}
}
