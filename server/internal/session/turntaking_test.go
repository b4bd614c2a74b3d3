package session_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

const rate16k = 16000

// turnTaking is the configured default of turn.* (config/turn.go).
func turnTaking() session.TurnTaking {
	return session.TurnTaking{
		Detector: session.RulesDetector(), CompleteDelay: 250 * time.Millisecond, IncompleteDelay: 1200 * time.Millisecond,
		PauseAfter: 150 * time.Millisecond, SpeechHang: 240 * time.Millisecond,
		MaxEndpointDelay: 3 * time.Second, Preemptive: true, MinInterruptionWords: 1,
		Backchannels:            []string{"uh-huh", "mm-hmm", "yeah", "okay", "right", "i see", "sure"},
		ResumeFalseInterruption: true, FalseInterruptionTimeout: time.Second,
	}
}

func newTurnTyped(t *testing.T, llm *sessiontest.LLM, stt *sessiontest.STT) *typed {
	t.Helper()
	tc := newTypedTTS(t, llm, stt, &sessiontest.TTS{WordDuration: 200 * time.Millisecond},
		session.StartParams{Transport: "typed-test"}, session.WithTurnTaking(turnTaking()))
	until[session.Established](tc, false, nil)
	tc.audio(sessiontest.Silence(500*time.Millisecond, rate16k)) // the VAD learns the noise floor
	return tc
}

// partialUntil reads until a TranscriptPartial with exactly text.
func partialUntil(tc *typed, text string) []any {
	tc.t.Helper()
	var seen []any
	for {
		s, p := until[session.TranscriptPartial](tc, false, nil)
		seen = append(seen, s...)
		if p.Text == text {
			return seen
		}
	}
}

// requestsUntil waits until the LLM has been asked n times.
func requestsUntil(t *testing.T, llm *sessiontest.LLM, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(llm.Requests()) >= n }, waitFor, 5*time.Millisecond)
}

func answer(replies map[string]string) *sessiontest.LLM {
	return &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		if r, ok := replies[req.Messages[len(req.Messages)-1].Content]; ok {
			return sessiontest.Text(r), nil
		}
		return sessiontest.Text("Sorry?"), nil
	}}
}

// TestPauseInsideSentenceIsOneTurn: "set a timer for … five minutes" with
// a 700 ms pause is one turn: speech stops and starts again inside it,
// the words before the pause read as unfinished (a long wait), and the
// preemptive reply to the first half is dropped.
func TestPauseInsideSentenceIsOneTurn(t *testing.T) {
	llm := answer(map[string]string{"set a timer for five minutes": "Timer set."})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{"set a timer for", "five minutes"}})

	tc.audio(sessiontest.Speech(600*time.Millisecond, rate16k))
	tc.audio(sessiontest.Silence(260*time.Millisecond, rate16k))
	seen := partialUntil(tc, "set a timer for")
	requestsUntil(t, llm, 1) // the preemptive call for the first half
	tc.audio(sessiontest.Silence(440*time.Millisecond, rate16k))
	tc.audio(sessiontest.Speech(600*time.Millisecond, rate16k))
	tc.audio(sessiontest.Silence(260*time.Millisecond, rate16k))
	seen = append(seen, partialUntil(tc, "set a timer for five minutes")...)
	tc.audio(sessiontest.Silence(300*time.Millisecond, rate16k))
	more, done := until[session.ResponseDone](tc, true, nil)
	seen = append(seen, more...)
	_, met := until[session.Metrics](tc, false, nil)

	order := slices.DeleteFunc(kinds(seen), func(k string) bool { return k == "TranscriptPartial" })
	assert.Equal(t, []string{
		"SpeechStarted", "SpeechStopped", "SpeechStarted", "SpeechStopped", "TurnEnded", "TranscriptFinal",
		"ResponseStarted", "TextDelta", "AudioStarted", "AudioMark", "ResponseDone",
	}, order)
	assert.Equal(t, "Timer set.", done.Text)
	for _, v := range seen {
		switch ev := v.(type) {
		case session.TranscriptFinal:
			assert.Equal(t, "set a timer for five minutes", ev.Text)
		case session.TurnEnded:
			assert.Equal(t, "complete", ev.Decision)
			assert.InDelta(t, 260*time.Millisecond, ev.EndpointDelay, float64(60*time.Millisecond))
		}
	}
	reqs := llm.Requests()
	require.Len(t, reqs, 2, "the preemptive call for the first half, then the one used")
	assert.Equal(t, "set a timer for", reqs[0].Messages[len(reqs[0].Messages)-1].Content)
	assert.True(t, met.Preemptive)
	assert.Equal(t, "complete", met.TurnDecision)
	require.NotNil(t, met.EndpointDelay)
	assert.Equal(t, []sdk.Message{
		{Role: sdk.RoleUser, Content: "set a timer for five minutes"}, {Role: sdk.RoleAssistant, Content: "Timer set."},
	}, tc.sess.History(context.Background()))
}

// TestUnfinishedWordsWaitLonger: a turn ending in "um" waits the long
// delay and then ends (decision incomplete), answered once.
func TestUnfinishedWordsWaitLonger(t *testing.T) {
	llm := answer(map[string]string{"set a timer um": "For how long?"})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{"set a timer um"}})
	tc.audio(sessiontest.Speech(600*time.Millisecond, rate16k))
	tc.audio(sessiontest.Silence(260*time.Millisecond, rate16k))
	partialUntil(tc, "set a timer um")
	tc.audio(sessiontest.Silence(800*time.Millisecond, rate16k))
	tc.do(session.Ping{ID: "still waiting"})
	seen, _ := until[session.Pong](tc, false, nil)
	assert.NotContains(t, kinds(seen), "TurnEnded", "1060 ms of silence after an unfinished turn")
	tc.audio(sessiontest.Silence(300*time.Millisecond, rate16k))
	_, ended := until[session.TurnEnded](tc, false, nil)
	assert.Equal(t, "incomplete", ended.Decision)
	assert.InDelta(t, 1200*time.Millisecond, ended.EndpointDelay, float64(40*time.Millisecond))
	_, done := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, "For how long?", done.Text)
	assert.Len(t, llm.Requests(), 1, "the preemptive call was used")
}

func story() string {
	return "Once upon a time there was a fox who lived in a wood and sang every night to the moon above."
}

// agentSpeaking starts a long reply and plays its first second.
func agentSpeaking(tc *typed) session.AudioStarted {
	tc.t.Helper()
	tc.do(session.InputText{Text: "tell me a story"})
	_, start := until[session.AudioStarted](tc, true, nil)
	playFrames(tc, 50)
	return start
}

// playFrames plays n frames of agent audio (the clock moves with them).
func playFrames(tc *typed, n int) {
	tc.t.Helper()
	deadline := time.After(waitFor)
	for n > 0 {
		select {
		case v := <-tc.sink.out:
			if _, ok := v.(frame); ok {
				tc.clock.Advance(20 * time.Millisecond)
				n--
			}
		case <-deadline:
			tc.t.Fatalf("%d frames short", n)
		}
	}
}

// TestBackchannelDoesNotInterrupt: a short "uh-huh" over the agent (under
// pause_after) is reported and ignored; the reply plays to its end.
func TestBackchannelDoesNotInterrupt(t *testing.T) {
	llm := answer(map[string]string{"tell me a story": story()})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{"uh-huh"}})
	agentSpeaking(tc)
	tc.audio(sessiontest.Speech(120*time.Millisecond, rate16k))
	tc.audio(sessiontest.Silence(400*time.Millisecond, rate16k))
	seen, bc := until[session.Backchannel](tc, false, nil)
	assert.Equal(t, "uh-huh", bc.Text)
	// The frames sent ahead were read without playing them: play on.
	tc.clock.Advance(120 * time.Millisecond)
	more, done := until[session.ResponseDone](tc, true, nil)
	seen = append(seen, more...)
	assert.Equal(t, story(), done.Text)
	assert.NotContains(t, kinds(seen), "ResponseInterrupted")
	assert.NotContains(t, kinds(seen), "TurnEnded")
	assert.Len(t, llm.Requests(), 1)
}

// TestLongBackchannelPausesAndResumes: "yeah" long enough to pause the
// agent (its audio stops at once) resumes it from the first word not
// heard as soon as its words are known to be a backchannel.
func TestLongBackchannelPausesAndResumes(t *testing.T) {
	llm := answer(map[string]string{"tell me a story": story()})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{"yeah"}, PartialAfter: time.Minute})
	agentSpeaking(tc)
	tc.audio(sessiontest.Speech(500*time.Millisecond, rate16k))
	_, intr := until[session.ResponseInterrupted](tc, false, nil)
	assert.True(t, intr.Resumable)
	tc.audio(sessiontest.Silence(400*time.Millisecond, rate16k))
	_, bc := until[session.Backchannel](tc, false, nil)
	assert.Equal(t, "yeah", bc.Text)
	_, res := until[session.ResponseResumed](tc, false, nil)
	assert.Equal(t, intr.TextPlayed, res.TextPlayed)
	_, done := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, story(), done.Text)
}

// TestFalseInterruptionResumes: a sound over the agent that yields no
// words pauses it; after the timeout it resumes where it stopped, audio
// re-synthesised from the first word not heard, and the history keeps the
// whole reply.
func TestFalseInterruptionResumes(t *testing.T) {
	llm := answer(map[string]string{"tell me a story": story()})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{""}})
	agentSpeaking(tc)
	tc.audio(sessiontest.Speech(500*time.Millisecond, rate16k))
	seen, intr := until[session.ResponseInterrupted](tc, false, nil)
	assert.True(t, intr.Resumable)
	assert.Equal(t, session.ReasonBargeIn, intr.Reason)
	require.NotEmpty(t, intr.TextPlayed)
	assert.True(t, strings.HasPrefix(story(), intr.TextPlayed))
	_ = seen
	// No words: the STT's final is empty, and the reply resumes at once.
	tc.audio(sessiontest.Silence(400*time.Millisecond, rate16k))
	seen, res := until[session.ResponseResumed](tc, false, nil)
	assert.Equal(t, intr.ResponseID, res.ResponseID)
	assert.Equal(t, intr.TextPlayed, res.TextPlayed)
	assert.Equal(t, intr.Played, res.Played)
	assert.Zero(t, frames(seen), "no agent audio while paused")
	more, done := until[session.ResponseDone](tc, true, nil)
	assert.Contains(t, kinds(more), "AudioStarted", "the resumed audio is announced again")
	assert.Equal(t, intr.ResponseID, done.ResponseID)
	assert.Equal(t, story(), done.Text)
	// The resumed audio is the unplayed words only: 200 ms a word, minus
	// what had been heard (whole words).
	heard := len(strings.Fields(intr.TextPlayed))
	assert.Equal(t, (len(strings.Fields(story()))-heard)*10, frames(more))
	hist := tc.sess.History(context.Background())
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: story()}, hist[len(hist)-1])
}

// TestWordsInterrupt: one recognised word over the agent interrupts at
// once (before interrupt_after); the history keeps what was heard and
// the words are the user's turn.
func TestWordsInterrupt(t *testing.T) {
	llm := answer(map[string]string{"tell me a story": story(), "stop please": "Okay."})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{"stop please"}})
	agentSpeaking(tc)
	// 120 ms: speech started (its pre-roll gives the recognizer the first
	// word at once), not yet long enough to pause.
	tc.audio(sessiontest.Speech(120*time.Millisecond, rate16k))
	_, intr := until[session.ResponseInterrupted](tc, false, nil)
	assert.False(t, intr.Resumable, "words interrupt for good")
	tc.audio(sessiontest.Speech(380*time.Millisecond, rate16k))
	tc.audio(sessiontest.Silence(600*time.Millisecond, rate16k))
	seen, done := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, "Okay.", done.Text)
	assert.NotContains(t, kinds(seen), "ResponseResumed")
	hist := tc.sess.History(context.Background())
	require.Len(t, hist, 4)
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: intr.TextPlayed}, hist[1])
	assert.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "stop please"}, hist[2])
}

// TestPausedThenWordsConfirm: a pause whose sound turns out to be words
// stays an interruption (no resume); the words are answered.
func TestPausedThenWordsConfirm(t *testing.T) {
	llm := answer(map[string]string{"tell me a story": story(), "wait a second": "Sure."})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{"wait a second"}, PartialAfter: time.Minute})
	agentSpeaking(tc)
	tc.audio(sessiontest.Speech(500*time.Millisecond, rate16k))
	_, intr := until[session.ResponseInterrupted](tc, false, nil)
	assert.True(t, intr.Resumable)
	tc.audio(sessiontest.Silence(260*time.Millisecond, rate16k))
	_, final := until[session.ResponseInterrupted](tc, false, nil) // the final's words confirmed it
	assert.False(t, final.Resumable)
	assert.Equal(t, intr.TextPlayed, final.TextPlayed)
	_, met := until[session.Metrics](tc, false, nil)
	assert.Equal(t, intr.ResponseID, met.ResponseID)
	tc.audio(sessiontest.Silence(300*time.Millisecond, rate16k))
	seen, done := until[session.ResponseDone](tc, true, nil)
	t.Log(kinds(seen))
	assert.Equal(t, "Sure.", done.Text)
	assert.NotContains(t, kinds(seen), "ResponseResumed")
	hist := tc.sess.History(context.Background())
	require.Len(t, hist, 4)
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: intr.TextPlayed}, hist[1], "the history keeps what was heard at the pause")
}

// TestMaxUtteranceEndsTheTurn: speech (or babble taken for it) that goes
// on for vad.max_utterance ends the turn at once, decision forced.
func TestMaxUtteranceEndsTheTurn(t *testing.T) {
	llm := answer(map[string]string{"and so on and": "Let me stop you there."})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{"and so on and"}})
	tc.audio(sessiontest.Speech(3500*time.Millisecond, rate16k))
	_, ended := until[session.TurnEnded](tc, false, nil)
	assert.Equal(t, session.DecisionForced, ended.Decision)
	tc.audio(sessiontest.Silence(300*time.Millisecond, rate16k))
	_, done := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, "Let me stop you there.", done.Text, "answered although its words go on")
}

// TestSlowWordsAfterResumeInterrupt: the recognizer's final words come
// after false_interruption_timeout, when the reply has resumed: they
// still interrupt it and are answered (a slow recognizer loses no
// question said over the agent).
func TestSlowWordsAfterResumeInterrupt(t *testing.T) {
	llm := answer(map[string]string{"tell me a story": story(), "wait a second": "Sure."})
	gate := make(chan struct{})
	tc := newTurnTyped(t, llm, &sessiontest.STT{Transcripts: []string{"wait a second"}, PartialAfter: time.Minute, FinalGate: gate})
	agentSpeaking(tc)
	tc.audio(sessiontest.Speech(500*time.Millisecond, rate16k))
	_, intr := until[session.ResponseInterrupted](tc, false, nil)
	require.True(t, intr.Resumable)
	tc.audio(sessiontest.Silence(1500*time.Millisecond, rate16k))
	_, res := until[session.ResponseResumed](tc, false, nil)
	assert.Equal(t, intr.ResponseID, res.ResponseID)
	close(gate)
	tc.audio(sessiontest.Silence(200*time.Millisecond, rate16k))
	_, cut := until[session.ResponseInterrupted](tc, false, nil)
	assert.False(t, cut.Resumable, "the late words interrupt for good")
	assert.Equal(t, intr.ResponseID, cut.ResponseID)
	tc.audio(sessiontest.Silence(600*time.Millisecond, rate16k))
	seen, done := until[session.ResponseDone](tc, true, nil)
	assert.Equal(t, "Sure.", done.Text, kinds(seen))
	hist := tc.sess.History(context.Background())
	require.Len(t, hist, 4)
	assert.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "wait a second"}, hist[2])
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: cut.TextPlayed}, hist[1], "the history keeps what was heard")
}
