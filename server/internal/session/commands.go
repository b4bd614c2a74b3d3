package session

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/tools"
)

// Command is one thing a client asks of its session: one of the types
// below, handed to Session.Handle. Audio goes through HandleAudio instead.
type Command interface{ isCommand() }

// Update changes session settings; nil fields keep their value. The whole
// update is refused (an Error event) if any part is out of limits.
type Update struct {
	InputRate, OutputRate         *int
	SystemPrompt, Voice, Language *string
	// Tools replaces the client's tools when not nil (empty: none).
	Tools []tools.Definition
	VAD   *VADUpdate
	Turn  *TurnUpdate
	// ManualTurns, when true, ends turns only on CommitInput (push to
	// talk): the VAD neither ends turns nor barges in, and a committed
	// utterance's transcript goes into the history without an answer
	// until Respond.
	ManualTurns *bool
	// Recording, when set, starts (true) or stops and discards (false)
	// the session's recording; refused with CodeRecordingDisabled (true)
	// without a Recorder and with CodeInvalidField when the session's
	// token decided.
	Recording *bool
}

// VADUpdate narrows voice activity detection within the server's limits.
type VADUpdate struct {
	// MinSilence is the end-of-turn silence.
	MinSilence *time.Duration
	// MinSpeech is the speech needed before SpeechStarted.
	MinSpeech *time.Duration
	// ThresholdDB is the speech threshold in dB above the noise floor.
	ThresholdDB *float64
}

// TurnUpdate changes the session's turn-taking within the server's
// limits (TurnTaking): the waits after finished and unfinished words (at
// most MaxEndpointDelay, complete ≤ incomplete), the words that interrupt
// (1..10), the false interruption timeout (100 ms..10 s), and whether to
// pause and resume and to ask the LLM preemptively.
type TurnUpdate struct {
	CompleteDelay, IncompleteDelay, FalseInterruptionTimeout *time.Duration
	MinInterruptionWords                                     *int
	ResumeFalseInterruption, Preemptive                      *bool
}

// Client limits of TurnUpdate.
const (
	maxInterruptionWords     = 10
	minFalseInterruptionWait = 100 * time.Millisecond
	maxFalseInterruptionWait = 10 * time.Second
)

// InputText is typed user input: it interrupts the agent and starts a turn,
// skipping STT.
type InputText struct{ Text string }

// Cancel stops the agent's current response (ReasonClientCancel).
type Cancel struct{}

// ToolResult answers a client tool call.
type ToolResult struct {
	CallID string
	// Output is the text given to the model.
	Output  string
	IsError bool
}

// Played reports how far the listener has heard a response's audio (from
// the start of that response's audio), e.g. from echoed Twilio marks. With
// StartParams.ReportsPlayback the session trusts these reports instead of
// its own estimate when it cuts a response off. Reports for a response
// that is no longer current are ignored.
type Played struct {
	ResponseID string
	At         time.Duration
}

// Truncate says the client stopped playing a response at Played (the
// OpenAI Realtime conversation.item.truncate). A current response is cut
// off there; for the last finished one, the history's text is cut to what
// Played covers.
type Truncate struct {
	ResponseID string
	Played     time.Duration
}

// DTMF is keypad input from a phone: it starts a turn whose user text says
// which keys were pressed.
type DTMF struct {
	Digits string
	// Format is the user text, %s standing for the digits; empty: "The
	// caller pressed %s.".
	Format string
}

// Ping asks for a Pong carrying the same id.
type Ping struct{ ID string }

// AddUserText adds a user message to the history without answering it
// (the OpenAI Realtime conversation.item.create): a later Respond, typed
// input or spoken turn sees it.
type AddUserText struct{ Text string }

// AddAssistantText adds an assistant message to the history (a Realtime
// client's conversation.item.create of an assistant message: a scripted
// greeting, restored context); nothing is spoken.
type AddAssistantText struct{ Text string }

// Respond starts a response to the history as it is, without a new user
// turn (the OpenAI Realtime response.create). It interrupts a current
// response (ReasonNewInput). A non-empty Instructions replaces the system
// prompt for this response only. Under manual turns it waits for the
// transcript of a committed utterance.
type Respond struct {
	Instructions string
	// OutOfBand: the response sees the history but leaves nothing in it
	// (the Realtime response.create with conversation "none").
	OutOfBand bool
}

func (Update) isCommand()           {}
func (InputText) isCommand()        {}
func (Cancel) isCommand()           {}
func (ToolResult) isCommand()       {}
func (Played) isCommand()           {}
func (Truncate) isCommand()         {}
func (DTMF) isCommand()             {}
func (Ping) isCommand()             {}
func (AddUserText) isCommand()      {}
func (AddAssistantText) isCommand() {}
func (CommitInput) isCommand()      {}
func (ClearInput) isCommand()       {}
func (Respond) isCommand()          {}

// dtmfText is what the LLM is told for keypad input.
const dtmfText = "The caller pressed %s."

// validDTMF are the keys of a phone keypad (RFC 4733 events 0-15).
const validDTMF = "0123456789*#ABCD"

// onCommand runs one command on the session goroutine.
func (s *Session) onCommand(ctx context.Context, cmd Command) {
	switch c := cmd.(type) {
	case Update:
		s.applyUpdate(c)
	case InputText:
		s.interrupt(ReasonNewInput)
		s.startResponse(ctx, c.Text, turnTimes{}, nil)
	case Cancel:
		s.interrupt(ReasonClientCancel)
	case ToolResult:
		if !s.client.Deliver(c.CallID, tools.Result{Output: c.Output, IsError: c.IsError}) {
			s.sendError(CodeUnknownToolCall, "no pending client tool call with this id", map[string]string{"call_id": c.CallID})
		}
	case Played:
		if r := s.resp; r != nil && r.id == c.ResponseID {
			r.out.reportPlayed(c.At)
		}
	case Truncate:
		s.truncate(c)
	case DTMF:
		if c.Digits == "" || strings.Trim(c.Digits, validDTMF) != "" {
			s.sendError(CodeInvalidField, "DTMF digits must be of 0-9 * # A-D", map[string]string{"field": "digits"})
			return
		}
		format := c.Format
		if format == "" {
			format = dtmfText
		}
		s.interrupt(ReasonNewInput)
		s.startResponse(ctx, strings.Replace(format, "%s", c.Digits, 1), turnTimes{}, nil)
	case Ping:
		s.send(Pong(c))
	case CommitInput:
		s.commitInput(ctx)
	case ClearInput:
		s.clearInput()
	case AddUserText:
		s.hist.append(sdk.Message{Role: sdk.RoleUser, Content: c.Text})
	case AddAssistantText:
		s.hist.append(sdk.Message{Role: sdk.RoleAssistant, Content: c.Text})
	case Respond:
		if s.awaitingCommit() {
			s.respondAfter = &c
			return
		}
		s.interrupt(ReasonNewInput)
		prompt := s.st.systemPrompt
		if c.Instructions != "" {
			prompt = c.Instructions
		}
		s.respond(ctx, prompt, turnTimes{}, c.OutOfBand, nil)
	}
}

func (s *Session) applyUpdate(u Update) {
	next := s.st
	if u.VAD != nil && !s.applyVAD(u.VAD, &next) {
		return
	}
	if u.Turn != nil && !s.applyTurn(u.Turn, &next.turn) {
		return
	}
	if u.Recording != nil && !s.checkRecording(*u.Recording) {
		return
	}
	if u.SystemPrompt != nil && s.promptLocked {
		s.sendError(CodeInvalidField, "the system prompt is set by the session's token", map[string]string{"field": "system_prompt"})
		return
	}
	if u.Tools != nil {
		for i, t := range u.Tools {
			if s.m.tools.Has(t.Name) {
				s.sendError(CodeInvalidField, "tool name "+t.Name+" is taken by a server tool",
					map[string]string{"field": fmt.Sprintf("tools[%d].name", i)})
				return
			}
		}
	}
	for _, r := range []struct {
		v     *int
		dst   *int
		field string
	}{{u.InputRate, &next.inputRate, "input_sample_rate"}, {u.OutputRate, &next.outputRate, "output_sample_rate"}} {
		if r.v == nil {
			continue
		}
		if !SupportedSampleRate(*r.v) {
			s.sendError(CodeUnsupportedSampleRate, fmt.Sprintf("%s %d Hz is not supported (8000, 16000, 24000, 48000)", r.field, *r.v),
				map[string]string{"field": r.field, "value": strconv.Itoa(*r.v)})
			return
		}
		*r.dst = *r.v
	}
	for _, f := range []struct{ v, dst *string }{{u.SystemPrompt, &next.systemPrompt}, {u.Voice, &next.voice}, {u.Language, &next.language}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if next.inputRate != s.st.inputRate {
		if err := s.setInputRate(next.inputRate); err != nil {
			s.sendError(CodeUnsupportedSampleRate, err.Error(), map[string]string{"field": "input_sample_rate"})
			return
		}
	}
	if u.Tools != nil {
		s.client.Declare(u.Tools)
	}
	if next.minSilence != s.st.minSilence && s.m.turn.SpeechHang == 0 {
		s.in.seg.SetMinSilence(next.minSilence)
	}
	s.updates++
	if next.minSpeech != s.st.minSpeech {
		s.in.seg.SetMinSpeech(next.minSpeech)
	}
	if u.ManualTurns != nil {
		next.manualTurns = *u.ManualTurns
	}
	if next.threshold != s.st.threshold {
		s.in.energy.SetThreshold(next.threshold)
	}
	s.st = next
	s.ready = true
	recorded := u.Recording == nil || s.setRecording(*u.Recording)
	var names []string
	for _, t := range s.server.Tools() {
		names = append(names, t.Name)
	}
	names = append(names, s.client.Names()...)
	s.send(Updated{
		InputRate: next.inputRate, OutputRate: next.outputRate, Voice: next.voice, Language: next.language,
		MinSilence: next.minSilence, MinSpeech: next.minSpeech, ThresholdDB: next.threshold, Tools: names, Recording: s.rec != nil,
		Turn: TurnSettings{
			CompleteDelay: next.turn.complete, IncompleteDelay: next.turn.incomplete, FalseInterruptionTimeout: next.turn.falseTimeout,
			MinInterruptionWords: next.turn.minWords, ResumeFalseInterruption: next.turn.resume, Preemptive: next.turn.preemptive,
		},
	})
	if !recorded {
		s.sendError(CodeRecordingFailed, clientMessage(CodeRecordingFailed), nil)
	}
}

// applyTurn checks u against the limits and writes it to next; on the
// first value out of limits it sends invalid_field naming the field and
// the allowed range, and reports false (the update is refused whole).
func (s *Session) applyTurn(u *TurnUpdate, next *turnSettings) bool {
	refuse := func(field, value, allowed string) bool {
		s.sendError(CodeInvalidField, field+" must be "+allowed, map[string]string{"field": field, "value": value})
		return false
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	mx := s.m.turn.MaxEndpointDelay
	if mx <= 0 {
		mx = s.m.vad.MinSilenceMax
	}
	if u.CompleteDelay != nil {
		next.complete = *u.CompleteDelay
	}
	if u.IncompleteDelay != nil {
		next.incomplete = *u.IncompleteDelay
	}
	switch {
	case u.CompleteDelay != nil && (next.complete < 0 || next.complete > mx):
		return refuse("turn.complete_delay_ms", ms(next.complete), "within 0.."+ms(mx))
	case u.IncompleteDelay != nil && (next.incomplete < 0 || next.incomplete > mx):
		return refuse("turn.incomplete_delay_ms", ms(next.incomplete), "within 0.."+ms(mx))
	case next.incomplete < next.complete:
		return refuse("turn.incomplete_delay_ms", ms(next.incomplete), "at least turn.complete_delay_ms ("+ms(next.complete)+")")
	}
	if w := u.MinInterruptionWords; w != nil {
		if *w < 1 || *w > maxInterruptionWords {
			return refuse("turn.min_interruption_words", strconv.Itoa(*w), "within 1.."+strconv.Itoa(maxInterruptionWords))
		}
		next.minWords = *w
	}
	if d := u.FalseInterruptionTimeout; d != nil {
		if *d < minFalseInterruptionWait || *d > maxFalseInterruptionWait {
			return refuse("turn.false_interruption_timeout_ms", ms(*d), "within "+ms(minFalseInterruptionWait)+".."+ms(maxFalseInterruptionWait))
		}
		next.falseTimeout = *d
	}
	if u.ResumeFalseInterruption != nil {
		next.resume = *u.ResumeFalseInterruption
	}
	if u.Preemptive != nil {
		next.preemptive = *u.Preemptive
	}
	return true
}

// applyVAD checks u's VAD settings against the server's limits (a zero
// maximum means none) and writes them to next. On the first one out of
// limits it sends invalid_field, naming the field and the allowed range, and
// reports false: the update is refused as a whole.
func (s *Session) applyVAD(u *VADUpdate, next *settings) bool {
	lim := s.m.vad
	outOfRange := func(field, value, lo, hi string) bool {
		s.sendError(CodeInvalidField, fmt.Sprintf("%s must be within %s..%s", field, lo, hi),
			map[string]string{"field": field, "value": value})
		return false
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	durations := []struct {
		v      *time.Duration
		lo, hi time.Duration
		dst    *time.Duration
		field  string
	}{
		{u.MinSilence, lim.MinSilenceMin, lim.MinSilenceMax, &next.minSilence, "vad.min_silence_ms"},
		{u.MinSpeech, lim.MinSpeechMin, lim.MinSpeechMax, &next.minSpeech, "vad.min_speech_ms"},
	}
	for _, d := range durations {
		if d.v == nil {
			continue
		}
		if *d.v < 0 || *d.v < d.lo || (d.hi > 0 && *d.v > d.hi) {
			return outOfRange(d.field, ms(*d.v), ms(d.lo), ms(d.hi))
		}
		*d.dst = *d.v
	}
	if u.ThresholdDB != nil {
		db := *u.ThresholdDB
		if db <= 0 || db < lim.ThresholdMin || (lim.ThresholdMax > 0 && db > lim.ThresholdMax) {
			g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
			return outOfRange("vad.threshold_db", g(db), g(lim.ThresholdMin), g(lim.ThresholdMax))
		}
		next.threshold = db
	}
	return true
}
