package session

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/sdk"
)

// preemptive is an LLM call made as soon as a turn's final transcript is
// in, before the end-of-turn wait is over (TurnTaking.Preemptive). It is
// the first round of the reply if the turn ends with the same words and
// nothing else changed; otherwise it is cancelled and counted as
// discarded. Its stream is read by the reply (the tokens wait in the
// plugin connection meanwhile); the text-to-speech is not started early.
type preemptive struct {
	text    string
	version int
	started time.Time
	cancel  context.CancelFunc
	// ready is closed once the call returned stream or err.
	ready  chan struct{}
	stream sdk.LLMStream
	err    error
}

// Preemptive outcomes (metric label values).
const (
	preemptiveUsed      = "used"
	preemptiveDiscarded = "discarded"
)

// convVersion changes whenever what the LLM would be asked changes other
// than by the user's new words: the history or the settings.
func (s *Session) convVersion() int { return s.hist.version + s.updates }

// startPreemptive asks the LLM for the reply to text, if not already
// asked for exactly that.
func (s *Session) startPreemptive(ctx context.Context, t *userTurn, text string) {
	if p := t.pre; p != nil {
		if p.text == text && p.version == s.convVersion() {
			return
		}
		s.dropPreemptive(t)
	}
	msgs, set := s.requestMessages(s.st.systemPrompt, &sdk.Message{Role: sdk.RoleUser, Content: text})
	req := s.llmRequest(msgs, set.Tools())
	pctx, cancel := context.WithCancel(trace.ContextWithSpan(ctx, t.span))
	p := &preemptive{text: text, version: s.convVersion(), started: s.m.clock.Now(), cancel: cancel, ready: make(chan struct{})}
	t.pre = p
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		p.stream, p.err = s.plugins.LLM.Generate(pctx, req)
		close(p.ready)
	}()
}

// llmRequest is the first round's request for msgs (generate.go asks the
// later rounds itself).
func (s *Session) llmRequest(msgs []sdk.Message, toolDefs []sdk.Tool) sdk.GenerateRequest {
	req := sdk.GenerateRequest{Messages: msgs, MaxTokens: s.m.cfg.MaxTokens}
	if t := s.m.cfg.Temperature; t != 0 {
		req.Temperature = &t
	}
	if s.m.cfg.MaxToolRounds > 0 {
		req.Tools = toolDefs
	}
	return req
}

// dropPreemptive cancels t's preemptive call, if any.
func (s *Session) dropPreemptive(t *userTurn) {
	if p := t.pre; p != nil {
		t.pre = nil
		p.cancel()
		s.m.metrics.preemptive.WithLabelValues(preemptiveDiscarded).Inc()
	}
}

// takePreemptive returns t's preemptive call if it answers text as the
// reply would now be asked, and drops it otherwise.
func (s *Session) takePreemptive(t *userTurn, text string) *preemptive {
	p := t.pre
	if p == nil {
		return nil
	}
	if p.text != text || p.version != s.convVersion() {
		s.dropPreemptive(t)
		return nil
	}
	t.pre = nil
	s.m.metrics.preemptive.WithLabelValues(preemptiveUsed).Inc()
	return p
}
