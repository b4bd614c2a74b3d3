package session

import (
	"strings"

	"github.com/parleyhq/parley/sdk"
)

// history is the conversation as the LLM sees it: user turns, and of each
// agent turn only what the listener heard. Owned by the session goroutine.
type history struct {
	msgs []sdk.Message
	// limit caps len(msgs) (0: no cap); dropped counts messages cut from
	// the front so far, so positions stay valid across cuts.
	limit   int
	dropped int
	// version counts changes (a preemptive reply asked before one is
	// not used).
	version int
}

// roundRec is one LLM round of a response: its text range in the
// response text and the tool calls it made with their results.
type roundRec struct {
	start, end int
	calls      []sdk.ToolCall
	results    []sdk.Message
}

// committed says where a response's messages are in the history, so a
// later Truncate can cut them.
type committed struct {
	// at is the absolute position (dropped + index) of the first message.
	at, n int
	// cut is the byte of the response text the committed text ends at.
	cut int
}

func (h *history) append(msgs ...sdk.Message) {
	h.version++
	h.msgs = append(h.msgs, msgs...)
	if h.limit <= 0 || len(h.msgs) <= h.limit {
		return
	}
	// Never start the history with a tool result or an assistant message:
	// cut at the first user message within the limit, or — when the last
	// turn alone is longer than the limit — at that turn's user message.
	drop := len(h.msgs) - h.limit
	cut := -1
	for i := drop; i < len(h.msgs); i++ {
		if h.msgs[i].Role == sdk.RoleUser {
			cut = i
			break
		}
	}
	if cut < 0 {
		for i := drop - 1; i >= 0; i-- {
			if h.msgs[i].Role == sdk.RoleUser {
				cut = i
				break
			}
		}
	}
	if cut <= 0 {
		return
	}
	h.msgs = append([]sdk.Message(nil), h.msgs[cut:]...)
	h.dropped += cut
}

// responseMessages are a response's history messages with its text cut at
// byte cut: completed tool rounds (calls with their results) and the text
// that was heard; complete means the whole text was heard.
func responseMessages(full string, rounds []roundRec, cut int, complete bool) []sdk.Message {
	last := 0
	if n := len(rounds); n > 0 {
		last = rounds[n-1].end
	}
	if !complete && last < len(full) {
		rounds = append(rounds[:len(rounds):len(rounds)], roundRec{start: last, end: len(full)})
	}
	var add []sdk.Message
	for _, rd := range rounds {
		end := min(rd.end, cut)
		content := ""
		if end > rd.start {
			content = strings.TrimSpace(full[rd.start:end])
		}
		switch {
		case len(rd.calls) > 0:
			add = append(add, sdk.Message{Role: sdk.RoleAssistant, Content: content, ToolCalls: rd.calls})
			add = append(add, rd.results...)
		case content != "":
			add = append(add, sdk.Message{Role: sdk.RoleAssistant, Content: content})
		}
	}
	return add
}

// commit appends a response's messages cut at byte cut of its text and
// returns where they are.
func (h *history) commit(full string, rounds []roundRec, cut int, complete bool) committed {
	add := responseMessages(full, rounds, cut, complete)
	at := h.dropped + len(h.msgs)
	h.append(add...)
	return committed{at: at, n: len(add), cut: cut}
}

// recut replaces committed messages c with the response cut at byte cut
// (only ever shorter). False if they are no longer all in the history.
func (h *history) recut(c *committed, full string, rounds []roundRec, cut int) bool {
	i := c.at - h.dropped
	if i < 0 || i+c.n > len(h.msgs) {
		return false
	}
	if cut >= c.cut {
		return true
	}
	repl := responseMessages(full, rounds, cut, false)
	msgs := make([]sdk.Message, 0, len(h.msgs)-c.n+len(repl))
	msgs = append(msgs, h.msgs[:i]...)
	msgs = append(msgs, repl...)
	msgs = append(msgs, h.msgs[i+c.n:]...)
	h.msgs = msgs
	h.version++
	c.n, c.cut = len(repl), cut
	return true
}
