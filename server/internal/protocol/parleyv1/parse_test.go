package parleyv1_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/tools"
)

func TestParseClientMessage(t *testing.T) {
	rate, th, minSpeech := 24000, 9.5, 80*time.Millisecond
	tests := []struct {
		name string
		in   string
		want session.Command
		code session.ErrorCode
	}{
		{name: "ping", in: `{"type":"ping","id":"7"}`, want: session.Ping{ID: "7"}},
		{name: "input.text", in: `{"type":"input.text","text":"hi"}`, want: session.InputText{Text: "hi"}},
		{name: "cancel", in: `{"type":"response.cancel"}`, want: session.Cancel{}},
		{name: "update", in: `{"type":"session.update","input_sample_rate":24000,"future_field":1}`, want: session.Update{InputRate: &rate}},
		{name: "tool.result", in: `{"type":"tool.result","call_id":"c","output":{"a":1}}`, want: session.ToolResult{CallID: "c", Output: `{"a":1}`}},
		{name: "not JSON", in: `{"type":`, code: parleyv1.CodeInvalidJSON},
		{name: "array", in: `[1,2]`, code: parleyv1.CodeInvalidMessage},
		{name: "no type", in: `{}`, code: parleyv1.CodeInvalidMessage},
		{name: "type not string", in: `{"type":3}`, code: parleyv1.CodeInvalidMessage},
		{name: "unknown", in: `{"type":"x"}`, code: parleyv1.CodeUnknownType},
		{name: "bad rate", in: `{"type":"session.update","input_sample_rate":44100}`, code: session.CodeUnsupportedSampleRate},
		{name: "bad tool name", in: `{"type":"session.update","tools":[{"name":"no spaces"}]}`, code: session.CodeInvalidField},
		{name: "duplicate tool", in: `{"type":"session.update","tools":[{"name":"a"},{"name":"a"}]}`, code: session.CodeInvalidField},
		{name: "tool params not object", in: `{"type":"session.update","tools":[{"name":"a","parameters":[1]}]}`, code: session.CodeInvalidField},
		{name: "negative silence", in: `{"type":"session.update","vad":{"min_silence_ms":-1}}`, code: session.CodeInvalidField},
		{name: "negative min speech", in: `{"type":"session.update","vad":{"min_speech_ms":-1}}`, code: session.CodeInvalidField},
		{name: "zero threshold", in: `{"type":"session.update","vad":{"threshold_db":0}}`, code: session.CodeInvalidField},
		{name: "threshold not a number", in: `{"type":"session.update","vad":{"threshold_db":"high"}}`, code: parleyv1.CodeInvalidMessage},
		{name: "VAD update", in: `{"type":"session.update","vad":{"threshold_db":9.5,"min_speech_ms":80}}`, want: session.Update{VAD: &session.VADUpdate{ThresholdDB: &th, MinSpeech: &minSpeech}}},
		{name: "tool.result without id", in: `{"type":"tool.result"}`, code: parleyv1.CodeInvalidMessage},
		{name: "wrong type", in: `{"type":"ping","id":5}`, code: parleyv1.CodeInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parleyv1.Parse([]byte(tc.in))
			if tc.code != "" {
				var pe *parleyv1.ProtocolError
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
		msg := `{"type":"tool.result","call_id":"c"`
		if in != "" {
			msg += `,"output":` + in
		}
		cmd, err := parleyv1.Parse([]byte(msg + "}"))
		require.NoError(t, err, in)
		assert.Equal(t, want, cmd.(session.ToolResult).Output, in)
	}
}

// TestParseToolDefinitions: client tools become tools.Definitions; an
// empty list clears them (not nil), an absent one keeps them (nil).
func TestParseToolDefinitions(t *testing.T) {
	cmd, err := parleyv1.Parse([]byte(`{"type":"session.update","tools":[{"name":"get_weather","description":"d","parameters":{"type":"object"}}]}`))
	require.NoError(t, err)
	assert.Equal(t, []tools.Definition{{Name: "get_weather", Description: "d", Parameters: json.RawMessage(`{"type":"object"}`)}}, cmd.(session.Update).Tools)
	cmd, err = parleyv1.Parse([]byte(`{"type":"session.update","tools":[]}`))
	require.NoError(t, err)
	assert.NotNil(t, cmd.(session.Update).Tools)
	assert.Empty(t, cmd.(session.Update).Tools)
	cmd, err = parleyv1.Parse([]byte(`{"type":"session.update"}`))
	require.NoError(t, err)
	assert.Nil(t, cmd.(session.Update).Tools)
}

// FuzzParse: any input gives a command or a ProtocolError, never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"type":"ping"}`, `{"type":"session.update","input_sample_rate":16000,"tools":[{"name":"a","parameters":{}}],"vad":{"min_silence_ms":500,"min_speech_ms":80,"threshold_db":9.5}}`,
		`{"type":"input.text","text":"hi"}`, `{"type":"tool.result","call_id":"c","output":"x","is_error":true}`,
		`{"type":"response.cancel"}`, `{"type":1}`, `nope`, `{"type":"session.update","tools":[{"name":7}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := parleyv1.Parse(data)
		if err != nil {
			var pe *parleyv1.ProtocolError
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("error is not a ProtocolError with a code: %v", err)
			}
			return
		}
		if msg == nil {
			t.Fatal("no command and no error")
		}
	})
}
