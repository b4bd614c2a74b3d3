package session_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/session"
)

func TestParseClientMessage(t *testing.T) {
	rate, th, minSpeech := 24000, 9.5, 80
	tests := []struct {
		name string
		in   string
		want session.ClientMessage
		code session.ErrorCode
	}{
		{name: "ping", in: `{"type":"ping","id":"7"}`, want: &session.Ping{ID: "7"}},
		{name: "input.text", in: `{"type":"input.text","text":"hi"}`, want: &session.InputText{Text: "hi"}},
		{name: "cancel", in: `{"type":"response.cancel"}`, want: &session.ResponseCancel{}},
		{name: "update", in: `{"type":"session.update","input_sample_rate":24000,"future_field":1}`, want: &session.SessionUpdate{InputSampleRate: &rate}},
		{name: "tool.result", in: `{"type":"tool.result","call_id":"c","output":{"a":1}}`, want: &session.ToolResult{CallID: "c", Output: json.RawMessage(`{"a":1}`)}},
		{name: "not JSON", in: `{"type":`, code: session.CodeInvalidJSON},
		{name: "array", in: `[1,2]`, code: session.CodeInvalidMessage},
		{name: "no type", in: `{}`, code: session.CodeInvalidMessage},
		{name: "type not string", in: `{"type":3}`, code: session.CodeInvalidMessage},
		{name: "unknown", in: `{"type":"x"}`, code: session.CodeUnknownType},
		{name: "bad rate", in: `{"type":"session.update","input_sample_rate":44100}`, code: session.CodeUnsupportedSampleRate},
		{name: "bad tool name", in: `{"type":"session.update","tools":[{"name":"no spaces"}]}`, code: session.CodeInvalidField},
		{name: "duplicate tool", in: `{"type":"session.update","tools":[{"name":"a"},{"name":"a"}]}`, code: session.CodeInvalidField},
		{name: "tool params not object", in: `{"type":"session.update","tools":[{"name":"a","parameters":[1]}]}`, code: session.CodeInvalidField},
		{name: "negative silence", in: `{"type":"session.update","vad":{"min_silence_ms":-1}}`, code: session.CodeInvalidField},
		{name: "negative min speech", in: `{"type":"session.update","vad":{"min_speech_ms":-1}}`, code: session.CodeInvalidField},
		{name: "zero threshold", in: `{"type":"session.update","vad":{"threshold_db":0}}`, code: session.CodeInvalidField},
		{name: "threshold not a number", in: `{"type":"session.update","vad":{"threshold_db":"high"}}`, code: session.CodeInvalidMessage},
		{name: "VAD update", in: `{"type":"session.update","vad":{"threshold_db":9.5,"min_speech_ms":80}}`, want: &session.SessionUpdate{VAD: &session.VADUpdate{ThresholdDB: &th, MinSpeechMS: &minSpeech}}},
		{name: "tool.result without id", in: `{"type":"tool.result"}`, code: session.CodeInvalidMessage},
		{name: "wrong type", in: `{"type":"ping","id":5}`, code: session.CodeInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := session.ParseClientMessage([]byte(tc.in))
			if tc.code != "" {
				var pe *session.ProtocolError
				require.True(t, errors.As(err, &pe), "got %v", err)
				assert.Equal(t, tc.code, pe.Code)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestToolResultOutputText(t *testing.T) {
	for in, want := range map[string]string{`"plain"`: "plain", `{"a":1}`: `{"a":1}`, `null`: "", ``: "", `42`: "42"} {
		r := &session.ToolResult{Output: json.RawMessage(in)}
		assert.Equal(t, want, r.OutputText(), in)
	}
}

// FuzzParseClientMessage: any input gives a message or a ProtocolError,
// never a panic, and parsed messages re-encode to parseable JSON.
func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"ping"}`, `{"type":"session.update","input_sample_rate":16000,"tools":[{"name":"a","parameters":{}}],"vad":{"min_silence_ms":500,"min_speech_ms":80,"threshold_db":9.5}}`,
		`{"type":"input.text","text":"hi"}`, `{"type":"tool.result","call_id":"c","output":"x","is_error":true}`,
		`{"type":"response.cancel"}`, `{"type":1}`, `nope`, `{"type":"session.update","tools":[{"name":7}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := session.ParseClientMessage(data)
		if err != nil {
			var pe *session.ProtocolError
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("error is not a ProtocolError with a code: %v", err)
			}
			return
		}
		b, err := json.Marshal(msg)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var generic map[string]any
		if err := json.Unmarshal(b, &generic); err != nil {
			t.Fatalf("re-encoded message is not an object: %v", err)
		}
	})
}
