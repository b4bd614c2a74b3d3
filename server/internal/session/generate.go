package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
)

// ttsQueue is the number of TTS chunks buffered between the TTS stream and
// the pacer.
const ttsQueue = 16

// This file is a response's pipeline, on the response goroutine: LLM
// rounds → sentences → one TTS stream → resampling → the pacer (output.go).

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
			req.Tools = r.toolDefs
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
			r.out.emit(TextDelta{ResponseID: r.id, Delta: ev.TextDelta})
			for _, sentence := range split.Push(ev.TextDelta) {
				if err := speak(sentence); err != nil {
					return nil, err
				}
			}
		}
		if ev.Done != nil {
			r.addUsage(ev.Done.Usage)
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
