package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
)

// ttsQueue is the number of TTS chunks buffered between the TTS stream and
// the pacer.
const ttsQueue = 16

// This file is a response's pipeline, on the response goroutine: LLM
// rounds → sentences → one TTS stream → resampling → the pacer (output.go).

// maxLLMRestarts bounds how often one response's LLM round is started
// again after the model failed before any of the round was shown.
const maxLLMRestarts = 3

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
		tts.sendText(text)
		tts.sent += len(text)
		return nil
	}
	// finish ends the reply's audio: what the TTS has is played out.
	finish := func() error {
		if tts == nil {
			return nil
		}
		tts.closeSend()
		if err := <-tts.recvDone; err != nil {
			return err
		}
		if err := <-tts.paceDone; err != nil {
			return fmt.Errorf("session: pacing: %w", err)
		}
		return nil
	}
	restarts := 0
	msgs := r.messages
	maxRounds := r.s.m.cfg.MaxToolRounds
	for round := 0; ; round++ {
		req := r.s.llmRequest(msgs, r.toolDefs)
		if round >= maxRounds {
			req.Tools = nil
		}
		if round == 0 {
			r.setTime(func(t *turnTimes) { t.llmStart = r.s.m.clock.Now() })
		}
		start := len(r.fullText())
		calls, shown, err := r.generateRound(ctx, req, round, &split, speak)
		var te *turnError
		// The plugin host retried and fell back before the first event; a
		// model that died after it, or whose every instance is down right
		// now (restarting), is asked again while nothing was shown.
		down := err != nil && errors.As(err, &te) && !te.midStream && te.code == CodeLLMFailed && sdk.CodeOf(te.err) == sdk.CodeUnavailable
		if err != nil && errors.As(err, &te) && (te.midStream || down) && ctx.Err() == nil {
			switch {
			case !shown && restarts < maxLLMRestarts:
				// Nothing of this round was shown or spoken: ask again
				// (the restarted model, or the next in the chain).
				restarts++
				r.s.log.Warn("llm stream failed before anything was said, asking again", "response_id", r.id, "error", te.err)
				if down && !r.waitFor(ctx, sttRecoverBackoff<<restarts) {
					return err
				}
				r.resetText(start)
				split = SentenceSplitter{}
				round--
				continue
			case tts != nil:
				// Part was spoken: end the reply at what was said.
				if ferr := finish(); ferr != nil {
					return ferr
				}
				return &turnError{code: CodeLLMInterrupted, err: te.err}
			}
		}
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
			r.out.emit(NewError(CodeToolRoundsExceeded, fmt.Sprintf("more than %d tool rounds in one turn", maxRounds), nil))
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
	return finish()
}

// generateRound streams one LLM call: text goes to the client and, sentence
// by sentence, to speak; tool calls are returned. The round's text deltas
// are held back until its first sentence is spoken (which is when the
// listener could first hear anything) or the round ends, so that a model
// failing before that can be asked again without the client having seen
// a false start; shown reports whether any of the round reached the
// client.
func (r *response) generateRound(ctx context.Context, req sdk.GenerateRequest, round int,
	split *SentenceSplitter, speak func(string) error,
) (calls []sdk.ToolCall, shown bool, err error) {
	ctx, span := r.startLLMSpan(ctx, round)
	started := r.s.m.clock.Now()
	var usage sdk.Usage
	ttft := noFirstToken
	defer func() { endLLMSpan(span, usage.InputTokens, usage.OutputTokens, ttft, len(calls), err) }()
	stream, err := r.llmStream(ctx, req)
	if err != nil {
		return nil, false, &turnError{code: CodeLLMFailed, err: err}
	}
	var held []string
	show := func() {
		for _, d := range held {
			r.out.emit(TextDelta{ResponseID: r.id, Delta: d})
		}
		held, shown = nil, true
	}
	first := round == 0
	seen := false
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			show()
			return calls, true, nil
		}
		if err != nil {
			return nil, shown, &turnError{code: CodeLLMFailed, err: err, midStream: true}
		}
		if !seen {
			seen = true
			now := r.s.m.clock.Now()
			ttft = now.Sub(started)
			if first {
				r.setTime(func(t *turnTimes) { t.llmFirst = now })
			}
		}
		if ev.TextDelta != "" {
			r.mu.Lock()
			r.text.WriteString(ev.TextDelta)
			r.mu.Unlock()
			held = append(held, ev.TextDelta)
			if shown {
				show()
			}
			for _, sentence := range split.Push(ev.TextDelta) {
				show()
				if err := speak(sentence); err != nil {
					return nil, true, err
				}
			}
		}
		if ev.Done != nil {
			r.addUsage(ev.Done.Usage)
			usage.InputTokens += ev.Done.Usage.InputTokens
			usage.OutputTokens += ev.Done.Usage.OutputTokens
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

// llmStream opens an LLM round's stream: the preemptive call's, asked
// with the same request before the turn ended, for the first round;
// otherwise a new call.
func (r *response) llmStream(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	p := r.pre
	if p == nil {
		return r.s.plugins.LLM.Generate(ctx, req)
	}
	r.pre = nil
	select {
	case <-p.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.setTime(func(t *turnTimes) { t.llmStart = p.started })
	return p.stream, p.err
}

// waitFor waits d on the session's clock; false if ctx ended first.
func (r *response) waitFor(ctx context.Context, d time.Duration) bool {
	ch, stop := r.s.m.clock.At(r.s.m.clock.Now().Add(d))
	defer stop()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// openTTS opens the response's TTS stream and starts its receiver and pacer.
func (r *response) openTTS(ctx context.Context, fail context.CancelCauseFunc) (*ttsPipe, error) {
	return r.openTTSFrom(ctx, fail, "", 0)
}

// speakFrom speaks the whole response text from byte from on (a paused
// reply resumed, pause.go) and waits until its audio is all paced out.
func (r *response) speakFrom(ctx context.Context, fail context.CancelCauseFunc, from int) error {
	p, err := r.openTTSFrom(ctx, fail, r.fullText(), from)
	if err != nil {
		return err
	}
	if err := <-p.recvDone; err != nil {
		return err
	}
	if err := <-p.paceDone; err != nil {
		return fmt.Errorf("session: pacing: %w", err)
	}
	return nil
}

// openTTSFrom opens a TTS stream that speaks text from byte from on (all
// of it sent and closed at once when text is given; empty text: the
// caller sends it as it comes) and starts its receiver and pacer.
func (r *response) openTTSFrom(ctx context.Context, fail context.CancelCauseFunc, text string, from int) (*ttsPipe, error) {
	p := &ttsPipe{
		cfg:      sdk.TTSConfig{Voice: r.voice, SampleRate: r.outRate, Encoding: sdk.EncodingPCM16LE},
		recvDone: make(chan error, 1), paceDone: make(chan error, 1),
	}
	if text != "" {
		p.text.WriteString(text)
		p.closed = true
	}
	ctx, span := r.startTTSSpan(ctx)
	p.mu.Lock()
	err := p.reopen(ctx, r.s.plugins.TTS, from)
	if err != nil && sdk.CodeOf(err) == sdk.CodeUnavailable && ctx.Err() == nil {
		// The plugin host retried and fell back; every synthesizer is down
		// right now (restarting after a crash): wait for one, as a stream
		// failing mid-reply does, instead of losing the turn.
		r.s.log.Warn("no tts available at the start of a reply, waiting for one", "response_id", r.id, "error", err)
		err = r.reopenWithin(ctx, p, from, err)
	}
	p.mu.Unlock()
	if err != nil {
		r.endTTSSpan(span, 0, err)
		return nil, &turnError{code: CodeTTSFailed, err: err}
	}
	ch := make(chan pacedAudio, ttsQueue)
	r.s.wg.Add(2)
	go func() {
		defer r.s.wg.Done()
		err := r.receiveAudio(ctx, p, ch)
		p.mu.Lock()
		chars := p.text.Len() - from
		p.mu.Unlock()
		r.endTTSSpan(span, chars, err)
		p.stop()
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
// pacer; it closes ch when the stream ends. A stream failing mid-reply is
// resumed (ttsPipe) at the span whose audio was arriving, skipping the
// audio of it already received (resumePoint).
func (r *response) receiveAudio(ctx context.Context, p *ttsPipe, ch chan<- pacedAudio) error {
	defer close(ch)
	var rs *audio.Resampler
	rsFrom := 0
	var samples, conv []int16
	var at resumePoint
	for {
		stream, base := p.current()
		c, err := stream.Recv()
		if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
			if rerr := r.resume(ctx, p, at.from(), err); rerr != nil {
				return &turnError{code: CodeTTSFailed, err: rerr}
			}
			continue
		}
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
		if c.TextEnd > c.TextStart {
			c.TextStart, c.TextEnd = base+c.TextStart, base+c.TextEnd
		}
		if c.PCM = at.take(c); len(c.PCM) == 0 {
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
