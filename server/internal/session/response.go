package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
)

// ttsQueue is the number of TTS chunks buffered between the TTS stream and
// the pacer.
const ttsQueue = 16

// turnError is a failed stage of a response.
type turnError struct {
	code ErrorCode
	err  error
}

func (e *turnError) Error() string { return string(e.code) + ": " + e.err.Error() }
func (e *turnError) Unwrap() error { return e.err }

// roundRec is one LLM round of a response: its text range in the
// response text and the tool calls it made with their results.
type roundRec struct {
	start, end int
	calls      []sdk.ToolCall
	results    []sdk.Message
}

// response is one agent turn: LLM rounds (with tools) streamed sentence by
// sentence into one TTS stream whose audio is paced out.
type response struct {
	id       string
	s        *Session
	cancel   context.CancelFunc
	out      *output
	messages []sdk.Message
	tools    []sdk.Tool
	client   map[string]bool
	voice    string
	outRate  int
	language string
	done     chan struct{}

	mu         sync.Mutex
	text       strings.Builder
	rounds     []roundRec
	times      turnTimes
	endSession bool
}

// startResponse records the user's turn and starts the agent's answer.
func (s *Session) startResponse(ctx context.Context, userText string, times turnTimes) {
	s.appendHistory(sdk.Message{Role: sdk.RoleUser, Content: userText})
	s.nextResp++
	id := "resp_" + strconv.Itoa(s.nextResp)
	msgs := make([]sdk.Message, 0, len(s.history)+1)
	if s.st.systemPrompt != "" {
		msgs = append(msgs, sdk.Message{Role: sdk.RoleSystem, Content: s.st.systemPrompt})
	}
	msgs = append(msgs, s.history...)
	tools := s.m.tools.defs()
	client := make(map[string]bool, len(s.st.clientTools))
	for _, t := range s.st.clientTools {
		params := t.Parameters
		if len(params) == 0 {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		tools = append(tools, sdk.Tool{Name: t.Name, Description: t.Description, Parameters: params})
		client[t.Name] = true
	}
	startMsg, err := json.Marshal(AudioStarted{Type: TypeAudioStarted, ResponseID: id, Format: pcmFormat(s.st.outputRate)})
	if err != nil {
		s.log.Error("marshal event", "error", err)
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &response{
		id: id, s: s, cancel: cancel, messages: msgs, tools: tools, client: client,
		voice: s.st.voice, outRate: s.st.outputRate, language: s.st.language, times: times,
		done: make(chan struct{}),
	}
	r.out = newOutput(s.m.clock, s.conn, s.m.cfg.OutputLookahead, s.st.outputRate, startMsg, s.onSendErr)
	r.out.onStart = func() {
		s.postAsync(func(context.Context) {
			if s.resp == r {
				s.setState(stateAgentSpeaking)
			}
		})
	}
	s.resp = r
	s.setState(stateThinking)
	s.wg.Add(1)
	go r.run(rctx)
}

func (s *Session) appendHistory(msgs ...sdk.Message) {
	s.history = append(s.history, msgs...)
	limit := s.m.cfg.MaxHistory
	if limit <= 0 || len(s.history) <= limit {
		return
	}
	// Never start the history with a tool result or an assistant message:
	// cut at the first user message within the limit, or — when the last
	// turn alone is longer than the limit — at that turn's user message.
	drop := len(s.history) - limit
	cut := -1
	for i := drop; i < len(s.history); i++ {
		if s.history[i].Role == sdk.RoleUser {
			cut = i
			break
		}
	}
	if cut < 0 {
		for i := drop - 1; i >= 0; i-- {
			if s.history[i].Role == sdk.RoleUser {
				cut = i
				break
			}
		}
	}
	if cut <= 0 {
		return
	}
	s.history = append([]sdk.Message(nil), s.history[cut:]...)
}

// interrupt cuts off the current response (if any): its output stops
// before this returns, its streams are cancelled and the history keeps
// only the text that was played.
func (s *Session) interrupt(reason string) {
	r := s.resp
	if r == nil {
		return
	}
	s.resp = nil
	played := r.out.close()
	r.cancel()
	full := r.fullText()
	spoken := r.out.textPlayed(full, played)
	s.commitHistory(r, len(spoken), false)
	s.log.Info("response interrupted", "response_id", r.id, "reason", reason, "played_ms", played.Milliseconds())
	s.sendJSON(ResponseInterrupted{
		Type: TypeResponseInterrupted, ResponseID: r.id, Reason: reason,
		PlayedMS: played.Milliseconds(), TextPlayed: spoken,
	})
	s.sendMetrics(r)
	s.m.metrics.interrupts.WithLabelValues(reason).Inc()
	s.setState(stateListening)
}

// finishResponse runs on the session goroutine when a response's
// goroutine is done.
func (s *Session) finishResponse(r *response, err error) {
	if s.resp != r {
		return // already interrupted
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
		s.commitHistory(r, len(spoken), false)
	} else {
		r.out.close()
		s.commitHistory(r, len(full), true)
		spoken = strings.TrimSpace(full)
	}
	s.sendJSON(ResponseDone{Type: TypeResponseDone, ResponseID: r.id, Status: status, Text: spoken})
	s.sendMetrics(r)
	s.setState(stateListening)
	r.mu.Lock()
	end := r.endSession
	r.mu.Unlock()
	if end && err == nil {
		s.Close(CloseNormal, "end_session")
	}
}

func (s *Session) sendMetrics(r *response) {
	_, first := r.out.stats()
	r.mu.Lock()
	t := r.times
	r.mu.Unlock()
	t.firstAudioOut = first
	s.sendJSON(s.m.metrics.observe(r.id, t))
}

// commitHistory appends the response's messages, with assistant text cut
// at byte cut of the response text.
func (s *Session) commitHistory(r *response, cut int, complete bool) {
	r.mu.Lock()
	full := r.text.String()
	rounds := append([]roundRec(nil), r.rounds...)
	r.mu.Unlock()
	last := 0
	if n := len(rounds); n > 0 {
		last = rounds[n-1].end
	}
	if !complete && last < len(full) {
		rounds = append(rounds, roundRec{start: last, end: len(full)})
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
	s.appendHistory(add...)
}

func (r *response) fullText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text.String()
}

func (r *response) setTime(f func(t *turnTimes)) {
	r.mu.Lock()
	f(&r.times)
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
	r.s.postAsync(func(context.Context) { r.s.finishResponse(r, err) })
}

// ttsPipe is the response's TTS stream with its receiver and pacer.
type ttsPipe struct {
	stream   sdk.TTSStream
	recvDone chan error
	paceDone chan error
	sent     int
}

func (r *response) generate(ctx context.Context, fail context.CancelCauseFunc) error {
	var tts *ttsPipe
	var split SentenceSplitter
	speak := func(text string) error {
		if text == "" {
			return nil
		}
		if tts == nil {
			p, err := r.openTTS(ctx, fail)
			if err != nil {
				return err
			}
			tts = p
			r.setTime(func(t *turnTimes) { t.ttsFirstText = r.s.m.clock.Now() })
		}
		if err := tts.stream.SendText(text); err != nil {
			return &turnError{code: CodeTTSFailed, err: err}
		}
		tts.sent += len(text)
		return nil
	}
	msgs := r.messages
	maxRounds := r.s.m.cfg.MaxToolRounds
	for round := 0; ; round++ {
		req := sdk.GenerateRequest{Messages: msgs, MaxTokens: r.s.m.cfg.MaxTokens}
		if t := r.s.m.cfg.Temperature; t != 0 {
			req.Temperature = &t
		}
		if round < maxRounds {
			req.Tools = r.tools
		}
		if round == 0 {
			r.setTime(func(t *turnTimes) { t.llmStart = r.s.m.clock.Now() })
		}
		start := len(r.fullText())
		calls, err := r.generateRound(ctx, req, round == 0, &split, speak)
		if err != nil {
			return err
		}
		if rest := split.Flush(); rest != "" {
			if err := speak(rest); err != nil {
				return err
			}
		}
		end := len(r.fullText())
		if len(calls) == 0 {
			r.addRound(roundRec{start: start, end: end})
			break
		}
		if req.Tools == nil {
			r.out.emit(mustJSON(NewErrorEvent(CodeToolRoundsExceeded,
				fmt.Sprintf("more than %d tool rounds in one turn", maxRounds), nil)))
			r.addRound(roundRec{start: start, end: end})
			break
		}
		results, err := r.runTools(ctx, calls)
		if err != nil {
			return err
		}
		r.addRound(roundRec{start: start, end: end, calls: calls, results: results})
		text := strings.TrimSpace(r.fullText()[start:end])
		msgs = append(msgs[:len(msgs):len(msgs)], sdk.Message{Role: sdk.RoleAssistant, Content: text, ToolCalls: calls})
		msgs = append(msgs, results...)
	}
	if tts == nil {
		return nil
	}
	if err := tts.stream.CloseSend(); err != nil {
		return &turnError{code: CodeTTSFailed, err: err}
	}
	if err := <-tts.recvDone; err != nil {
		return err
	}
	if err := <-tts.paceDone; err != nil {
		return fmt.Errorf("session: pacing: %w", err)
	}
	return nil
}

func (r *response) addRound(rd roundRec) {
	r.mu.Lock()
	r.rounds = append(r.rounds, rd)
	r.mu.Unlock()
}

// generateRound streams one LLM call: text goes to the client and, sentence
// by sentence, to speak; tool calls are returned.
func (r *response) generateRound(ctx context.Context, req sdk.GenerateRequest, first bool,
	split *SentenceSplitter, speak func(string) error,
) ([]sdk.ToolCall, error) {
	stream, err := r.s.m.plugins.LLM.Generate(ctx, req)
	if err != nil {
		return nil, &turnError{code: CodeLLMFailed, err: err}
	}
	var calls []sdk.ToolCall
	seen := false
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return calls, nil
		}
		if err != nil {
			return nil, &turnError{code: CodeLLMFailed, err: err}
		}
		if first && !seen {
			seen = true
			r.setTime(func(t *turnTimes) { t.llmFirst = r.s.m.clock.Now() })
		}
		if ev.TextDelta != "" {
			r.mu.Lock()
			r.text.WriteString(ev.TextDelta)
			r.mu.Unlock()
			r.out.emit(mustJSON(TextDelta{Type: TypeTextDelta, ResponseID: r.id, Delta: ev.TextDelta}))
			for _, sentence := range split.Push(ev.TextDelta) {
				if err := speak(sentence); err != nil {
					return nil, err
				}
			}
		}
		if ev.ToolCall != nil {
			tc := *ev.ToolCall
			if tc.ID == "" {
				tc.ID = "call_" + strconv.Itoa(len(calls)+1)
			}
			if len(tc.Arguments) == 0 {
				tc.Arguments = json.RawMessage("{}")
			}
			calls = append(calls, tc)
		}
	}
}

// openTTS opens the response's TTS stream and starts its receiver and pacer.
func (r *response) openTTS(ctx context.Context, fail context.CancelCauseFunc) (*ttsPipe, error) {
	stream, err := r.s.m.plugins.TTS.Synthesize(ctx, sdk.TTSConfig{
		Voice: r.voice, SampleRate: r.outRate, Encoding: sdk.EncodingPCM16LE,
	})
	if err != nil {
		return nil, &turnError{code: CodeTTSFailed, err: err}
	}
	p := &ttsPipe{stream: stream, recvDone: make(chan error, 1), paceDone: make(chan error, 1)}
	ch := make(chan pacedAudio, ttsQueue)
	r.s.wg.Add(2)
	go func() {
		defer r.s.wg.Done()
		err := r.receiveAudio(ctx, stream, ch)
		if err != nil {
			fail(err)
		}
		p.recvDone <- err
	}()
	go func() {
		defer r.s.wg.Done()
		p.paceDone <- r.out.pace(ctx, ch)
	}()
	return p, nil
}

// receiveAudio converts TTS chunks to the output rate and hands them to the
// pacer; it closes ch when the stream ends.
func (r *response) receiveAudio(ctx context.Context, stream sdk.TTSStream, ch chan<- pacedAudio) error {
	defer close(ch)
	var rs *audio.Resampler
	rsFrom := 0
	var samples, conv []int16
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if rs == nil {
				return nil
			}
			// The filter's tail: the last milliseconds of the speech.
			conv = rs.Flush(conv[:0])
			select {
			case ch <- pacedAudio{pcm: audio.EncodePCM16LE(nil, conv)}:
			case <-ctx.Done():
			}
			return nil
		}
		if err != nil {
			return &turnError{code: CodeTTSFailed, err: err}
		}
		if len(c.PCM) == 0 {
			continue
		}
		r.mu.Lock()
		if r.times.ttsFirstAudio.IsZero() {
			r.times.ttsFirstAudio = r.s.m.clock.Now()
		}
		r.mu.Unlock()
		pcm := c.PCM
		rate := c.SampleRate
		if rate == 0 {
			rate = r.outRate
		}
		if rate != r.outRate {
			if rs == nil || rsFrom != rate {
				rs, err = r.s.m.resampler(rate, r.outRate)
				if err != nil {
					return &turnError{code: CodeTTSFailed, err: err}
				}
				rsFrom = rate
			}
			samples, err = audio.DecodePCM16LE(samples[:0], pcm)
			if err != nil {
				return &turnError{code: CodeTTSFailed, err: err}
			}
			conv = rs.Process(conv[:0], samples)
			pcm = audio.EncodePCM16LE(nil, conv)
		}
		select {
		case ch <- pacedAudio{pcm: pcm, textStart: c.TextStart, textEnd: c.TextEnd}:
		case <-ctx.Done():
			return nil
		}
	}
}

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

func (r *response) runTool(ctx context.Context, c sdk.ToolCall) (content string, isErr bool, err error) {
	if !json.Valid(c.Arguments) {
		r.out.emit(mustJSON(NewErrorEvent(CodeToolFailed, "the model sent arguments that are not JSON", map[string]string{"name": c.Name, "call_id": c.ID})))
		return "tool arguments must be a JSON object", true, nil
	}
	location := LocationServer
	if r.client[c.Name] {
		location = LocationClient
	}
	var ch chan *ToolResult
	if location == LocationClient {
		ch = r.s.registerCall(c.ID)
		defer r.s.unregisterCall(c.ID)
	}
	r.out.emit(mustJSON(ToolCallEvent{
		Type: TypeToolCall, ResponseID: r.id, CallID: c.ID, Name: c.Name, Arguments: c.Arguments, Location: location,
	}))
	if location == LocationClient {
		var timer <-chan time.Time
		if timeout := r.s.m.cfg.ClientToolTimeout; timeout > 0 {
			at, stop := r.s.m.clock.At(r.s.m.clock.Now().Add(timeout))
			defer stop()
			timer = at
		}
		select {
		case res := <-ch:
			return res.OutputText(), res.IsError, nil
		case <-timer:
			r.out.emit(mustJSON(NewErrorEvent(CodeToolTimeout, "client tool did not answer in time",
				map[string]string{"call_id": c.ID, "name": c.Name})))
			return "the client did not answer in time", true, nil
		case <-ctx.Done():
			return "", false, fmt.Errorf("session: tool %s: %w", c.Name, ctx.Err())
		}
	}
	st, ok := r.s.m.tools.byName[c.Name]
	if !ok {
		r.out.emit(mustJSON(NewErrorEvent(CodeToolFailed, "the model called an unknown tool", map[string]string{"name": c.Name})))
		return "unknown tool " + c.Name, true, nil
	}
	out, terr := st.run(ctx, c.Arguments)
	if ctx.Err() != nil {
		return "", false, fmt.Errorf("session: tool %s: %w", c.Name, ctx.Err())
	}
	if terr != nil {
		r.out.emit(mustJSON(NewErrorEvent(CodeToolFailed, terr.Error(), map[string]string{"name": c.Name, "call_id": c.ID})))
		return terr.Error(), true, nil
	}
	if st.endsSession {
		r.mu.Lock()
		r.endSession = true
		r.mu.Unlock()
	}
	return out, false, nil
}

// mustJSON marshals protocol structs, which cannot fail to marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"type":"error","code":"internal","message":"marshal failed","details":{}}`)
	}
	return b
}
