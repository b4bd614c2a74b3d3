package session_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/tools"
)

// waitFor bounds every wait of these tests.
const waitFor = 10 * time.Second

// frame stands for one audio frame in a recorded trace.
type frame struct{ bytes int }

// recSink is a session.Sink that records what the session sends, in order:
// session.Event values and frames.
type recSink struct {
	out    chan any
	once   sync.Once
	closed chan session.EndReason
}

func newRecSink() *recSink {
	return &recSink{out: make(chan any, 8192), closed: make(chan session.EndReason, 1)}
}

func (s *recSink) Event(ev session.Event) error { s.out <- ev; return nil }
func (s *recSink) Audio(pcm []byte) error       { s.out <- frame{len(pcm)}; return nil }
func (s *recSink) Close(r session.EndReason, _ string) {
	s.once.Do(func() { s.closed <- r })
}

// typed drives one session through the typed interface: commands in,
// events out, the microphone as the clock.
type typed struct {
	t     *testing.T
	clock *sessiontest.ManualClock
	sink  *recSink
	sess  *session.Session
	mgr   *session.Manager
}

func newTyped(t *testing.T, llm *sessiontest.LLM, stt *sessiontest.STT, p session.StartParams) *typed {
	t.Helper()
	return newTypedTTS(t, llm, stt, &sessiontest.TTS{WordDuration: 200 * time.Millisecond}, p)
}

// newTypedTTS is newTyped with a synthesizer of the test's own.
func newTypedTTS(t *testing.T, llm *sessiontest.LLM, stt *sessiontest.STT, tts *sessiontest.TTS, p session.StartParams, opts ...session.Option) *typed {
	t.Helper()
	clock := sessiontest.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	cfg := config.Session{
		SystemPrompt: "You are a test agent.", Voice: "slt", Language: "en", OutputSampleRate: 16000,
		InterruptAfter: 300 * time.Millisecond, MaxToolRounds: 3, ClientToolTimeout: 10 * time.Second,
		MaxHistory: 50, OutputLookahead: 100 * time.Millisecond,
	}
	tcfg := config.Tools{Builtin: []string{tools.ToolGetCurrentTime, tools.ToolEndSession}, Timezone: "UTC"}
	mgr, err := session.NewManager(cfg, testVAD(), tcfg, session.Plugins{STT: stt, LLM: llm, TTS: tts},
		nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), append([]session.Option{session.WithClock(clock)}, opts...)...)
	require.NoError(t, err)
	res, err := mgr.Reserve("127.0.0.1")
	require.NoError(t, err)
	tc := &typed{t: t, clock: clock, sink: newRecSink(), mgr: mgr}
	p.Sink = tc.sink
	tc.sess, err = mgr.Start(context.Background(), res, p)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, mgr.Drain(ctx))
	})
	return tc
}

func (tc *typed) do(cmd session.Command) {
	tc.t.Helper()
	require.NoError(tc.t, tc.sess.Handle(context.Background(), cmd))
}

// audio sends 16 kHz samples in 20 ms frames, one frame of clock each.
func (tc *typed) audio(samples []int16) {
	tc.t.Helper()
	for _, f := range sessiontest.Frames(sessiontest.PCM(samples), audio.SampleRate) {
		require.NoError(tc.t, tc.sess.HandleAudio(context.Background(), f))
		tc.clock.Advance(audio.FrameDuration)
	}
}

// until reads until an event of the same type as want arrives and
// returns everything read. With play, each frame advances the clock by a
// frame (the listener plays it) and onMark sees every AudioMark.
func until[T session.Event](tc *typed, play bool, onMark func(session.AudioMark)) ([]any, T) {
	tc.t.Helper()
	var seen []any
	deadline := time.After(waitFor)
	for {
		select {
		case v := <-tc.sink.out:
			seen = append(seen, v)
			switch x := v.(type) {
			case frame:
				if play {
					tc.clock.Advance(audio.FrameDuration)
				}
			case session.AudioMark:
				if onMark != nil {
					onMark(x)
				}
			}
			if ev, ok := v.(T); ok {
				return seen, ev
			}
		case <-deadline:
			var zero T
			tc.t.Fatalf("no %T within %s; saw %v", zero, waitFor, seen)
			return seen, zero
		}
	}
}

// kinds lists the event types of a trace in order, without frames and
// with runs of TextDelta and AudioMark folded.
func kinds(seen []any) []string {
	var out []string
	for _, v := range seen {
		if _, ok := v.(frame); ok {
			continue
		}
		name := reflect.TypeOf(v).Name()
		if n := len(out); n > 0 && out[n-1] == name && (name == "TextDelta" || name == "AudioMark") {
			continue
		}
		out = append(out, name)
	}
	return out
}

func frames(seen []any) int {
	n := 0
	for _, v := range seen {
		if _, ok := v.(frame); ok {
			n++
		}
	}
	return n
}

// TestTypedConversation runs a scripted conversation through the typed
// session interface alone — Commands in, Events and frames out, no wire
// format anywhere: a spoken question answered with a server tool, a
// barge-in cut at the listener's last reported playback (Twilio-style
// marks), keypad input, a client-reported truncation (Realtime-style), a
// client tool, a ping, refused commands, and the end.
func TestTypedConversation(t *testing.T) {
	story := "Once upon a time there was a fox."
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		last := req.Messages[len(req.Messages)-1]
		switch {
		case last.Role == sdk.RoleTool && last.ToolCallID == "t1":
			return sessiontest.Text("It is ", "three past four."), nil
		case last.Role == sdk.RoleTool:
			return sessiontest.Text("Thanks, " + last.Content + "."), nil
		case last.Content == "what time is it":
			return sessiontest.Call("t1", tools.ToolGetCurrentTime, `{}`), nil
		case last.Content == "tell me a story":
			return sessiontest.Text(story), nil
		case last.Content == "The caller pressed 5.":
			return sessiontest.Text("You pressed five."), nil
		case last.Content == "ask me":
			return sessiontest.Call("c1", "ask_user", `{"q":"ok?"}`), nil
		}
		return sessiontest.Text("Sorry?"), nil
	}}
	stt := &sessiontest.STT{Transcripts: []string{"what time is it", ""}}
	tc := newTyped(t, llm, stt, session.StartParams{AwaitUpdate: true, ReportsPlayback: true, Transport: "typed-test"})

	_, est := until[session.Established](tc, false, nil)
	assert.True(t, est.AwaitingUpdate)
	assert.Equal(t, tc.sess.ID(), est.SessionID)
	assert.Equal(t, 16000, est.InputRate)

	// Audio before the first update is refused with a code.
	require.NoError(t, tc.sess.HandleAudio(context.Background(), make([]byte, audio.FrameBytes)))
	_, e := until[session.Error](tc, false, nil)
	assert.Equal(t, session.CodeSessionNotReady, e.Code)

	silence := 400 * time.Millisecond
	rate := 16000
	tc.do(session.Update{InputRate: &rate, Tools: []tools.Definition{{Name: "ask_user"}}, VAD: &session.VADUpdate{MinSilence: &silence}})
	_, upd := until[session.Updated](tc, false, nil)
	assert.Equal(t, []string{tools.ToolGetCurrentTime, tools.ToolEndSession, "ask_user"}, upd.Tools)
	assert.Equal(t, silence, upd.MinSilence)

	// 1. A spoken question, answered through a server tool.
	tc.audio(sessiontest.Silence(400*time.Millisecond, rate))
	tc.audio(sessiontest.Speech(600*time.Millisecond, rate))
	tc.audio(sessiontest.Silence(600*time.Millisecond, rate))
	seen, done := until[session.ResponseDone](tc, true, nil)
	order := kinds(seen)
	// Partials come from the recognizer's goroutine: before the final,
	// at any point after the start.
	assert.Contains(t, order[:slices.Index(order, "TranscriptFinal")], "TranscriptPartial")
	assert.Equal(t, []string{
		"SpeechStarted", "SpeechStopped", "TurnEnded", "TranscriptFinal", "ResponseStarted",
		"ToolCall", "TextDelta", "AudioStarted", "AudioMark", "ResponseDone",
	}, slices.DeleteFunc(order, func(k string) bool { return k == "TranscriptPartial" }))
	assert.Equal(t, session.StatusCompleted, done.Status)
	assert.Equal(t, "It is three past four.", done.Text)
	assert.Equal(t, 50, frames(seen), "5 words × 200 ms in 20 ms frames")
	for _, v := range seen {
		switch ev := v.(type) {
		case session.SpeechStarted:
			assert.InDelta(t, 400*time.Millisecond, ev.Audio, float64(100*time.Millisecond), "onset offset")
		case session.ToolCall:
			assert.Equal(t, tools.LocationServer, ev.Location)
			assert.Equal(t, tools.ToolGetCurrentTime, ev.Name)
		case session.TranscriptFinal:
			assert.Equal(t, "what time is it", ev.Text)
		}
	}
	_, met := until[session.Metrics](tc, false, nil)
	assert.Equal(t, done.ResponseID, met.ResponseID)
	require.NotNil(t, met.VoiceToVoice)
	require.NotNil(t, met.STTFinal)

	// 2. Barge-in: the listener reports hearing up to the second mark
	// ("Once upon"); the history keeps exactly that, not what was sent.
	tc.do(session.InputText{Text: "tell me a story"})
	_, start := until[session.AudioStarted](tc, true, nil)
	marks := 0
	for marks < 2 {
		_, m := until[session.AudioMark](tc, true, nil)
		require.Equal(t, start.ResponseID, m.ResponseID)
		marks++
		tc.do(session.Played{ResponseID: m.ResponseID, At: m.End})
	}
	tc.audio(sessiontest.Speech(500*time.Millisecond, rate))
	seen, intr := until[session.ResponseInterrupted](tc, false, nil)
	assert.Equal(t, session.ReasonBargeIn, intr.Reason)
	assert.Equal(t, 400*time.Millisecond, intr.Played, "the last reported position")
	assert.Equal(t, "Once upon", intr.TextPlayed)
	tc.audio(sessiontest.Silence(600*time.Millisecond, rate))
	_, fin := until[session.TranscriptFinal](tc, false, nil)
	assert.Empty(t, fin.Text, "the interrupting speech recognised nothing: no turn")
	hist := tc.sess.History(context.Background())
	require.NotEmpty(t, hist)
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: "Once upon"}, hist[len(hist)-1])

	// 3. Keypad input reaches the LLM as user text.
	tc.do(session.DTMF{Digits: "5"})
	_, done = until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, "You pressed five.", done.Text)
	reqs := llm.Requests()
	assert.Equal(t, "The caller pressed 5.", reqs[len(reqs)-1].Messages[len(reqs[len(reqs)-1].Messages)-1].Content)

	// 4. The client says it stopped playing that reply after 200 ms
	// ("You"): the history is cut after the fact.
	tc.do(session.Truncate{ResponseID: done.ResponseID, Played: 200 * time.Millisecond})
	hist = tc.sess.History(context.Background())
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: "You"}, hist[len(hist)-1])

	// 5. A client tool: the call waits for the client's result.
	tc.do(session.InputText{Text: "ask me"})
	_, call := until[session.ToolCall](tc, false, nil)
	assert.Equal(t, tools.LocationClient, call.Location)
	tc.do(session.ToolResult{CallID: call.CallID, Output: "yes"})
	_, done = until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, "Thanks, yes.", done.Text)

	// 6. Ping, and commands the session refuses with a stable code.
	tc.do(session.Ping{ID: "p1"})
	_, pong := until[session.Pong](tc, false, nil)
	assert.Equal(t, "p1", pong.ID)
	for _, c := range []struct {
		cmd  session.Command
		code session.ErrorCode
	}{
		{session.DTMF{Digits: "5x"}, session.CodeInvalidField},
		{session.Truncate{ResponseID: "resp_99"}, session.CodeUnknownResponse},
		{session.ToolResult{CallID: "nope"}, session.CodeUnknownToolCall},
		{session.Update{InputRate: new(44100)}, session.CodeUnsupportedSampleRate},
	} {
		tc.do(c.cmd)
		_, e := until[session.Error](tc, false, nil)
		assert.Equal(t, c.code, e.Code, "%T", c.cmd)
		assert.NotNil(t, e.Details)
	}

	// 7. The end: the Sink is closed with the reason.
	tc.sess.Close(session.EndNormal, "test done")
	select {
	case r := <-tc.sink.closed:
		assert.Equal(t, session.EndNormal, r)
	case <-time.After(waitFor):
		t.Fatal("sink not closed")
	}
	<-tc.sess.Done()
}

// TestServerToolsNarrowed: a session started with ServerTools offers the
// LLM only those server tools (plus the client's), and shows its labels.
func TestServerToolsNarrowed(t *testing.T) {
	llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) { return sessiontest.Text("Okay."), nil }}
	tc := newTyped(t, llm, &sessiontest.STT{}, session.StartParams{
		ServerTools: []string{tools.ToolEndSession}, Labels: map[string]string{"call_sid": "CA1"},
	})
	until[session.Established](tc, false, nil)
	assert.Equal(t, map[string]string{"call_sid": "CA1"}, tc.sess.Info().Labels)
	tc.do(session.Update{Tools: []tools.Definition{{Name: "ask_user"}}})
	_, upd := until[session.Updated](tc, false, nil)
	assert.Equal(t, []string{tools.ToolEndSession, "ask_user"}, upd.Tools, "get_current_time is not offered")
	tc.do(session.InputText{Text: "hi"})
	until[session.ResponseDone](tc, true, nil)
	var offered []string
	for _, tl := range llm.Requests()[0].Tools {
		offered = append(offered, tl.Name)
	}
	assert.Equal(t, []string{tools.ToolEndSession, "ask_user"}, offered)
}

// TestAddUserTextThenRespond: user text added to the history is not
// answered until Respond, which may replace the system prompt for that
// response only.
func TestAddUserTextThenRespond(t *testing.T) {
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text("Hi " + req.Messages[len(req.Messages)-1].Content + "."), nil
	}}
	tc := newTyped(t, llm, &sessiontest.STT{}, session.StartParams{Transport: "typed-test"})
	until[session.Established](tc, false, nil)

	tc.do(session.AddAssistantText{Text: "Your name?"})
	tc.do(session.AddUserText{Text: "Ada"})
	tc.do(session.Ping{ID: "after-add"})
	seen, _ := until[session.Pong](tc, false, nil)
	assert.Equal(t, []string{"Pong"}, kinds(seen), "adding text starts no response")
	assert.Equal(t, []sdk.Message{{Role: sdk.RoleAssistant, Content: "Your name?"}, {Role: sdk.RoleUser, Content: "Ada"}}, tc.sess.History(context.Background()))

	tc.do(session.Respond{Instructions: "Greet by name."})
	seen, done := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, "ResponseStarted", kinds(seen)[0])
	assert.Equal(t, "Hi Ada.", done.Text)
	reqs := llm.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, []sdk.Message{
		{Role: sdk.RoleSystem, Content: "Greet by name."}, {Role: sdk.RoleAssistant, Content: "Your name?"}, {Role: sdk.RoleUser, Content: "Ada"},
	}, reqs[0].Messages)

	tc.do(session.Respond{})
	until[session.ResponseDone](tc, true, nil)
	reqs = llm.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, sdk.Message{Role: sdk.RoleSystem, Content: "You are a test agent."}, reqs[1].Messages[0], "the session prompt again")

	// Out of band: the reply sees the history and leaves nothing in it.
	before := tc.sess.History(context.Background())
	tc.do(session.Respond{OutOfBand: true})
	_, started := until[session.ResponseStarted](tc, false, nil)
	assert.True(t, started.OutOfBand)
	_, first := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, before, tc.sess.History(context.Background()))
	tc.do(session.Respond{OutOfBand: true})
	_, second := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, first.Text, second.Text, "the second saw the same history")
}

// TestManualTurns: with ManualTurns the VAD ends no turn; CommitInput
// does, its transcript joins the history unanswered, and a Respond sent
// before the transcript arrived waits for it. ClearInput drops the audio.
func TestManualTurns(t *testing.T) {
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		return sessiontest.Text("You said " + req.Messages[len(req.Messages)-1].Content + "."), nil
	}}
	stt := &sessiontest.STT{Transcripts: []string{"hello there"}}
	tc := newTyped(t, llm, stt, session.StartParams{Transport: "typed-test"})
	until[session.Established](tc, false, nil)
	rate := 16000
	manual := true
	tc.do(session.Update{InputRate: &rate, ManualTurns: &manual})
	until[session.Updated](tc, false, nil)

	tc.do(session.CommitInput{})
	_, e := until[session.Error](tc, false, nil)
	assert.Equal(t, session.CodeInvalidField, e.Code, "nothing to commit yet")

	tc.audio(sessiontest.Speech(600*time.Millisecond, rate))
	tc.audio(sessiontest.Silence(800*time.Millisecond, rate))
	tc.do(session.Ping{ID: "no-turn"})
	seen, _ := until[session.Pong](tc, false, nil)
	for _, k := range kinds(seen) {
		assert.NotContains(t, []string{"SpeechStarted", "SpeechStopped", "ResponseStarted"}, k, "the VAD decides nothing")
	}
	tc.do(session.CommitInput{})
	tc.do(session.Respond{})
	seen, fin := until[session.TranscriptFinal](tc, false, nil)
	assert.Equal(t, "hello there", fin.Text)
	assert.NotContains(t, kinds(seen), "ResponseStarted", "the response waits for the transcript")
	_, done := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, "You said hello there.", done.Text)

	tc.audio(sessiontest.Speech(300*time.Millisecond, rate))
	tc.do(session.ClearInput{})
	tc.do(session.CommitInput{})
	_, e = until[session.Error](tc, false, nil)
	assert.Equal(t, session.CodeInvalidField, e.Code, "cleared: nothing to commit")
	assert.Len(t, llm.Requests(), 1)
}

// TestResponseUsage: the token counts the LLM plugin reports are summed
// over the rounds of a response.
func TestResponseUsage(t *testing.T) {
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		if req.Messages[len(req.Messages)-1].Role == sdk.RoleTool {
			return []sdk.GenerateEvent{{TextDelta: "Done."}, {Done: &sdk.Done{StopReason: sdk.StopEndTurn, Usage: sdk.Usage{InputTokens: 5, OutputTokens: 6}}}}, nil
		}
		return []sdk.GenerateEvent{
			{ToolCall: &sdk.ToolCall{ID: "t1", Name: tools.ToolGetCurrentTime, Arguments: json.RawMessage(`{}`)}},
			{Done: &sdk.Done{StopReason: sdk.StopToolUse, Usage: sdk.Usage{InputTokens: 3, OutputTokens: 4}}},
		}, nil
	}}
	tc := newTyped(t, llm, &sessiontest.STT{}, session.StartParams{Transport: "typed-test"})
	until[session.Established](tc, false, nil)
	tc.do(session.InputText{Text: "what time is it"})
	_, done := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, sdk.Usage{InputTokens: 8, OutputTokens: 10}, done.Usage)
}
