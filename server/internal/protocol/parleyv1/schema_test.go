package parleyv1_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1/parleyv1test"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/tools"
)

// TestSchemasCoverProtocol: every event and message type has a schema.
func TestSchemasCoverProtocol(t *testing.T) {
	s := parleyv1test.Load(t)
	for _, typ := range []string{
		parleyv1.TypeConnectionEstablished, parleyv1.TypeSessionUpdated, parleyv1.TypeSpeechStarted, parleyv1.TypeSpeechStopped,
		parleyv1.TypeTranscriptPartial, parleyv1.TypeTranscriptFinal, parleyv1.TypeTextDelta, parleyv1.TypeAudioStarted,
		parleyv1.TypeResponseDone, parleyv1.TypeResponseInterrupted, parleyv1.TypeToolCall, parleyv1.TypeMetrics,
		parleyv1.TypeError, parleyv1.TypePong, parleyv1.TypeTurnEnded, parleyv1.TypeBackchannel, parleyv1.TypeResponseResumed,
	} {
		assert.Contains(t, s, "server/"+typ)
	}
	for _, typ := range []string{parleyv1.TypeSessionUpdate, parleyv1.TypeInputText, parleyv1.TypeResponseCancel, parleyv1.TypeToolResult, parleyv1.TypePing} {
		assert.Contains(t, s, "client/"+typ)
	}
	assert.Len(t, s, 22)
}

// TestClientSchemasAgreeWithParser: messages valid per the client schemas
// parse, and the parser's refusals are refused by the schemas too.
func TestClientSchemasAgreeWithParser(t *testing.T) {
	s := parleyv1test.Load(t)
	for _, tc := range []struct {
		msg   string
		valid bool
	}{
		{`{"type":"session.update","input_sample_rate":48000,"tools":[{"name":"a_b","parameters":{"type":"object"}}],"vad":{"min_silence_ms":400}}`, true},
		{`{"type":"session.update","vad":{"threshold_db":9.5,"min_speech_ms":80}}`, true},
		{`{"type":"input.text","text":"hello"}`, true},
		{`{"type":"response.cancel"}`, true},
		{`{"type":"tool.result","call_id":"c1","output":{"x":1},"is_error":false}`, true},
		{`{"type":"ping","id":"p"}`, true},
		{`{"type":"session.update","input_sample_rate":44100}`, false},
		{`{"type":"session.update","tools":[{"name":"bad name"}]}`, false},
		{`{"type":"session.update","vad":{"threshold_db":0}}`, false},
		{`{"type":"session.update","vad":{"min_speech_ms":-20}}`, false},
		{`{"type":"session.update","vad":{"threshold_db":"high"}}`, false},
		{`{"type":"input.text","text":""}`, false},
		{`{"type":"input.text","text":5}`, false},
		{`{"type":"tool.result"}`, false},
		{`{"type":"ping","id":3}`, false},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			schemaErr := s.ValidateClient(t, []byte(tc.msg))
			_, parseErr := parleyv1.Parse([]byte(tc.msg))
			assert.Equal(t, tc.valid, schemaErr == nil, "schema: %v", schemaErr)
			assert.Equal(t, tc.valid, parseErr == nil, "parser: %v", parseErr)
		})
	}
}

// TestEncodeMatchesSchemas: every session event the protocol carries
// encodes to a message its schema accepts, with the wire names and units
// (milliseconds) of the protocol; the others are not sent.
func TestEncodeMatchesSchemas(t *testing.T) {
	s := parleyv1test.Load(t)
	d := func(v time.Duration) *time.Duration { return &v }
	for _, tc := range []struct {
		ev   session.Event
		want string
	}{
		{session.Established{SessionID: "sess_0123456789abcdef01234567", InputRate: 16000, OutputRate: 24000, AwaitingUpdate: true},
			`{"type":"connection_established","session_id":"sess_0123456789abcdef01234567","protocol":"parley.v1","input_audio_format":{"encoding":"pcm16le","sample_rate":16000,"channels":1},"output_audio_format":{"encoding":"pcm16le","sample_rate":24000,"channels":1},"awaiting_update":true}`},
		{session.Updated{InputRate: 16000, OutputRate: 16000, Voice: "slt", MinSilence: 600 * time.Millisecond, MinSpeech: 80 * time.Millisecond, ThresholdDB: 9.5},
			`{"type":"session.updated","input_audio_format":{"encoding":"pcm16le","sample_rate":16000,"channels":1},"output_audio_format":{"encoding":"pcm16le","sample_rate":16000,"channels":1},"voice":"slt","language":"","min_silence_ms":600,"min_speech_ms":80,"threshold_db":9.5,"tools":[],"turn":{"complete_delay_ms":0,"incomplete_delay_ms":0,"min_interruption_words":0,"false_interruption_timeout_ms":0,"resume_false_interruption":false,"preemptive":false},"recording":false}`},
		{session.SpeechStarted{Audio: 1240 * time.Millisecond}, `{"type":"vad.speech_started","audio_ms":1240}`},
		{session.SpeechStopped{Audio: 2 * time.Second}, `{"type":"vad.speech_stopped","audio_ms":2000}`},
		{session.TranscriptPartial{Text: "what"}, `{"type":"transcript.partial","text":"what"}`},
		{session.TranscriptFinal{Text: "what time"}, `{"type":"transcript.final","text":"what time"}`},
		{session.TextDelta{ResponseID: "resp_1", Delta: "It"}, `{"type":"response.text.delta","response_id":"resp_1","delta":"It"}`},
		{session.AudioStarted{ResponseID: "resp_1", SampleRate: 48000},
			`{"type":"response.audio.started","response_id":"resp_1","format":{"encoding":"pcm16le","sample_rate":48000,"channels":1}}`},
		{session.ResponseDone{ResponseID: "resp_1", Status: session.StatusCompleted, Text: "It is four."},
			`{"type":"response.done","response_id":"resp_1","status":"completed","text":"It is four."}`},
		{session.ResponseInterrupted{ResponseID: "resp_1", Reason: session.ReasonBargeIn, Played: 1500 * time.Millisecond, TextPlayed: "It is"},
			`{"type":"response.interrupted","response_id":"resp_1","reason":"barge_in","played_ms":1500,"text_played":"It is"}`},
		{session.ToolCall{ResponseID: "resp_1", CallID: "c1", Name: "calculator", Arguments: json.RawMessage(`{"expression":"1+1"}`), Location: tools.LocationServer},
			`{"type":"tool.call","response_id":"resp_1","call_id":"c1","name":"calculator","arguments":{"expression":"1+1"},"location":"server"}`},
		{session.Metrics{ResponseID: "resp_1", LLMTTFT: d(12500 * time.Microsecond), VoiceToVoice: d(700 * time.Millisecond)},
			`{"type":"metrics","response_id":"resp_1","llm_ttft_ms":12.5,"voice_to_voice_ms":700}`},
		{session.Error{Code: session.CodeSTTFailed, Message: "boom"}, `{"type":"error","code":"stt_failed","message":"boom","details":{}}`},
		{session.Pong{ID: "7"}, `{"type":"pong","id":"7"}`},
		{session.TurnEnded{Audio: 2500 * time.Millisecond, EndpointDelay: 250 * time.Millisecond, Decision: "complete"},
			`{"type":"turn.ended","audio_ms":2500,"endpoint_delay_ms":250,"decision":"complete"}`},
		{session.Backchannel{Text: "uh-huh"}, `{"type":"input.backchannel","text":"uh-huh"}`},
		{session.ResponseResumed{ResponseID: "resp_2", Played: 800 * time.Millisecond, TextPlayed: "It is"},
			`{"type":"response.resumed","response_id":"resp_2","played_ms":800,"text_played":"It is"}`},
		{session.ResponseInterrupted{ResponseID: "resp_2", Reason: session.ReasonBargeIn, Played: 800 * time.Millisecond, TextPlayed: "It is", Resumable: true},
			`{"type":"response.interrupted","response_id":"resp_2","reason":"barge_in","played_ms":800,"text_played":"It is","resumable":true}`},
		{session.Metrics{ResponseID: "resp_2", EndpointDelay: d(250 * time.Millisecond), TurnDecision: "complete", Preemptive: true},
			`{"type":"metrics","response_id":"resp_2","endpoint_delay_ms":250,"turn_decision":"complete","preemptive":true}`},
	} {
		msg, ok := parleyv1.Encode(tc.ev)
		require.True(t, ok, "%T", tc.ev)
		assert.JSONEq(t, tc.want, string(msg))
		s.ValidateServer(t, msg)
	}
	for _, ev := range []session.Event{session.ResponseStarted{ResponseID: "r"}, session.AudioMark{ResponseID: "r", End: time.Second}} {
		_, ok := parleyv1.Encode(ev)
		assert.False(t, ok, "%T is not part of parley.v1", ev)
	}
}

// TestCloseCodes: every end reason has its documented close code.
func TestCloseCodes(t *testing.T) {
	for r, want := range map[session.EndReason]parleyv1.CloseCode{
		session.EndNormal: 1000, session.EndShutdown: 1001, session.EndPolicyViolation: 1008, session.EndMessageTooBig: 1009,
		session.EndInternal: 1011, session.EndTryAgainLater: 1013, session.EndSlowConsumer: 4001, session.EndIdle: 4002, session.EndByAgent: 1000,
		session.EndByOperator: 4004, session.EndMaxDuration: 4005,
	} {
		assert.Equal(t, want, parleyv1.CloseCodeFor(r), r.String())
	}
}
