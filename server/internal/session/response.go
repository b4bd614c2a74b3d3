package session

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/tools"
)

// turnError is a failed stage of a response.
type turnError struct {
	code ErrorCode
	err  error
	// midStream: the plugin failed after its stream had started (where
	// the plugin host no longer retries).
	midStream bool
}

func (e *turnError) Error() string { return string(e.code) + ": " + e.err.Error() }
func (e *turnError) Unwrap() error { return e.err }

// response is one agent turn: LLM rounds (with tools) streamed sentence by
// sentence into one TTS stream whose audio is paced out (generate.go).
// This file is its life on the session goroutine: start, interruption,
// end, and what the history keeps of it.
type response struct {
	id       string
	s        *Session
	cancel   context.CancelFunc
	out      *output
	messages []sdk.Message
	tools    tools.Set
	toolDefs []sdk.Tool
	voice    string
	outRate  int
	language string
	done     chan struct{}
	// hist is where its messages went in the history (set once committed).
	hist committed
	// outOfBand responses leave nothing in the history.
	outOfBand bool

	mu         sync.Mutex
	text       strings.Builder
	rounds     []roundRec
	times      turnTimes
	endSession bool
	// usage sums the LLM rounds' token counts.
	usage sdk.Usage
	// pre is the preemptive LLM call its first round uses (generate).
	pre *preemptive
	// span is the turn's trace span, ended with the response.
	span trace.Span

	// Pause state, owned by the session goroutine (pause.go): paused at
	// pausedPlayed of audio; finished (with finishErr) once its pipeline
	// ended while paused; resumeWanted once the pause proved false before
	// that.
	paused, finished, resumeWanted bool
	pausedPlayed                   time.Duration
	finishErr                      error
}

// startResponse records the user's turn and starts the agent's answer.
func (s *Session) startResponse(ctx context.Context, userText string, times turnTimes, pre *preemptive) {
	if _, spoken := turnOf(ctx); !spoken {
		span := s.startTurnSpan(ctx, turnTyped)
		s.recordUserText(span, userText)
		ctx = withTurn(ctx, span)
	}
	s.hist.append(sdk.Message{Role: sdk.RoleUser, Content: userText})
	s.respond(ctx, s.st.systemPrompt, times, false, pre)
}

// respond starts the agent's answer to the history, with systemPrompt;
// an out-of-band answer is not committed to the history.
func (s *Session) respond(ctx context.Context, systemPrompt string, times turnTimes, outOfBand bool, pre *preemptive) {
	s.nextResp++
	s.turns.Add(1)
	id := "resp_" + strconv.Itoa(s.nextResp)
	msgs, set := s.requestMessages(systemPrompt, nil)
	span, ok := turnOf(ctx)
	if !ok {
		span = s.startTurnSpan(ctx, turnTyped)
		ctx = withTurn(ctx, span)
	}
	rctx, cancel := context.WithCancel(ctx)
	if pre != nil {
		context.AfterFunc(rctx, pre.cancel)
		times.preemptive = true
	}
	r := &response{
		id: id, s: s, cancel: cancel, messages: msgs, tools: set, toolDefs: set.Tools(),
		voice: s.st.voice, outRate: s.st.outputRate, language: s.st.language, times: times,
		done: make(chan struct{}), outOfBand: outOfBand, pre: pre, span: span,
	}
	r.out = newOutput(s.m.clock, s.sink, s.m.cfg.OutputLookahead, s.st.outputRate, id, s.onSendErr)
	r.out.reported = s.reportsPlayback
	r.out.onStart = func() {
		s.postAsync(func(context.Context) {
			if s.resp == r {
				s.setTurn(turnAgentSpeaking)
			}
		})
	}
	s.resp = r
	s.setTurn(turnThinking)
	s.send(ResponseStarted{ResponseID: id, OutOfBand: outOfBand})
	s.wg.Add(1)
	go r.run(rctx)
}

// requestMessages are what the LLM is asked with: the system prompt, the
// history and then extra; set is the tools it is offered.
func (s *Session) requestMessages(systemPrompt string, extra *sdk.Message) ([]sdk.Message, tools.Set) {
	msgs := make([]sdk.Message, 0, len(s.hist.msgs)+2)
	if systemPrompt != "" {
		msgs = append(msgs, sdk.Message{Role: sdk.RoleSystem, Content: systemPrompt})
	}
	msgs = append(msgs, s.hist.msgs...)
	if extra != nil {
		msgs = append(msgs, *extra)
	}
	return msgs, tools.Set{s.server, s.client}
}

// interrupt cuts off the current response (if any): its output stops
// before this returns, its streams are cancelled and the history keeps
// only the text that was played.
func (s *Session) interrupt(reason InterruptReason) {
	r := s.resp
	if r == nil {
		return
	}
	s.resp = nil
	played := r.out.close()
	r.cancel()
	spoken := r.out.textPlayed(r.fullText(), played)
	s.commit(r, len(spoken), false)
	s.log.Info("response interrupted", "response_id", r.id, "reason", string(reason), "played", played.String(), "was_paused", r.paused)
	if r.paused {
		// It stays cut where it paused; the client hears it is final.
		s.m.metrics.pauses.WithLabelValues(pauseInterrupted).Inc()
	}
	s.send(ResponseInterrupted{ResponseID: r.id, Reason: reason, Played: played, TextPlayed: spoken, Usage: r.usageNow()})
	markInterrupted(r.span, reason)
	s.sendMetrics(r, spoken)
	s.m.metrics.interrupts.WithLabelValues(string(reason)).Inc()
	s.setTurn(turnListening)
}

// finishResponse runs on the session goroutine when a response's
// goroutine is done.
func (s *Session) finishResponse(ctx context.Context, r *response, err error) {
	if s.resp != r {
		return // already interrupted
	}
	if r.paused {
		// Its text and audio are all made; what was heard waits for the
		// pause to be judged (pause.go).
		r.finished, r.finishErr = true, err
		if r.resumeWanted {
			s.resumeResponse(ctx, r)
		}
		return
	}
	s.resp = nil
	status := StatusCompleted
	full := r.fullText()
	var spoken string
	if err != nil {
		status = StatusFailed
		var te *turnError
		code := CodeInternal
		if errors.As(err, &te) {
			code = te.code
		}
		s.pluginError(code, err)
		// Everything sent will still be heard: keep the text of all of it.
		r.out.close()
		sent, _ := r.out.stats()
		spoken = r.out.textPlayed(full, sent)
		s.commit(r, len(spoken), false)
	} else {
		r.out.close()
		s.commit(r, len(full), true)
		spoken = strings.TrimSpace(full)
	}
	s.send(ResponseDone{ResponseID: r.id, Status: status, Text: spoken, Usage: r.usageNow()})
	markDone(r.span, status, err)
	s.sendMetrics(r, spoken)
	s.setTurn(turnListening)
	r.mu.Lock()
	end := r.endSession
	r.mu.Unlock()
	if end && err == nil {
		s.Close(EndByAgent, "end_session")
	}
}

// truncate handles a client's report that it stopped playing a response.
func (s *Session) truncate(c Truncate) {
	if r := s.resp; r != nil && r.id == c.ResponseID {
		r.out.reportPlayed(c.Played)
		r.out.trustReports()
		s.interrupt(ReasonClientCancel)
		return
	}
	r := s.last
	if r == nil || r.id != c.ResponseID {
		s.sendError(CodeUnknownResponse, "no such response to truncate", map[string]string{"response_id": c.ResponseID})
		return
	}
	cut := len(r.out.textPlayed(r.fullText(), c.Played))
	r.mu.Lock()
	rounds := append([]roundRec(nil), r.rounds...)
	r.mu.Unlock()
	if !s.hist.recut(&r.hist, r.fullText(), rounds, cut) {
		s.sendError(CodeUnknownResponse, "the response is no longer in the history", map[string]string{"response_id": c.ResponseID})
	}
}

// sendMetrics sends the response's Metrics event and ends its turn span
// (spoken: the reply text the listener heard).
func (s *Session) sendMetrics(r *response, spoken string) {
	_, first := r.out.stats()
	r.mu.Lock()
	t := r.times
	r.mu.Unlock()
	t.firstAudioOut = first
	ev := s.m.metrics.observe(r.id, t)
	s.send(ev)
	s.endTurnSpan(r, ev, spoken)
}

// commit appends the response's messages to the history, with assistant
// text cut at byte cut of the response text; the response becomes the last
// one (the one Truncate can still cut).
func (s *Session) commit(r *response, cut int, complete bool) {
	if r.outOfBand {
		return
	}
	r.mu.Lock()
	full := r.text.String()
	rounds := append([]roundRec(nil), r.rounds...)
	r.mu.Unlock()
	r.hist = s.hist.commit(full, rounds, cut, complete)
	s.last = r
}

func (r *response) fullText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text.String()
}

// resetText drops the response text from byte n on (a round asked again).
func (r *response) resetText(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.text.String()[:n]
	r.text.Reset()
	r.text.WriteString(t)
}

func (r *response) setTime(f func(t *turnTimes)) {
	r.mu.Lock()
	f(&r.times)
	r.mu.Unlock()
}

func (r *response) addUsage(u sdk.Usage) {
	r.mu.Lock()
	r.usage.InputTokens += u.InputTokens
	r.usage.OutputTokens += u.OutputTokens
	r.mu.Unlock()
}

func (r *response) usageNow() sdk.Usage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.usage
}

func (r *response) addRound(rd roundRec) {
	r.mu.Lock()
	r.rounds = append(r.rounds, rd)
	r.mu.Unlock()
}

// run is the response goroutine.
func (r *response) run(parent context.Context) {
	defer r.s.wg.Done()
	defer close(r.done)
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	err := r.generate(ctx, cancel)
	if cause := context.Cause(ctx); err != nil && cause != nil && parent.Err() == nil {
		var te *turnError
		if errors.As(cause, &te) {
			err = te
		}
	}
	if parent.Err() != nil {
		return // interrupted: the session already moved on
	}
	r.s.postAsync(func(ctx context.Context) { r.s.finishResponse(ctx, r, err) })
}
