package ws_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/session"
)

// schemaSet holds the compiled protocol schemas by direction and type.
type schemaSet map[string]*jsonschema.Schema

func loadSchemas(t testing.TB) schemaSet {
	t.Helper()
	c := jsonschema.NewCompiler()
	out := schemaSet{}
	for _, dir := range []string{"server", "client"} {
		files, err := filepath.Glob(filepath.Join("schema", dir, "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			require.NoError(t, err, f)
			url := "mem:///" + filepath.ToSlash(f)
			require.NoError(t, c.AddResource(url, doc))
			sch, err := c.Compile(url)
			require.NoError(t, err, f)
			out[dir+"/"+strings.TrimSuffix(filepath.Base(f), ".json")] = sch
		}
	}
	return out
}

// validate checks one server event against its schema.
func (s schemaSet) validate(t testing.TB, data []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	obj, ok := inst.(map[string]any)
	require.True(t, ok, "event is an object: %s", data)
	typ, _ := obj["type"].(string)
	sch, ok := s["server/"+typ]
	require.True(t, ok, "no schema for server event %q", typ)
	require.NoError(t, sch.Validate(inst), "event %s", data)
}

// TestSchemasCoverProtocol: every event and message type has a schema.
func TestSchemasCoverProtocol(t *testing.T) {
	s := loadSchemas(t)
	for _, typ := range []string{
		session.TypeConnectionEstablished, session.TypeSessionUpdated, session.TypeSpeechStarted, session.TypeSpeechStopped,
		session.TypeTranscriptPartial, session.TypeTranscriptFinal, session.TypeTextDelta, session.TypeAudioStarted,
		session.TypeResponseDone, session.TypeResponseInterrupted, session.TypeToolCall, session.TypeMetrics,
		session.TypeError, session.TypePong,
	} {
		assert.Contains(t, s, "server/"+typ)
	}
	for _, typ := range []string{session.TypeSessionUpdate, session.TypeInputText, session.TypeResponseCancel, session.TypeToolResult, session.TypePing} {
		assert.Contains(t, s, "client/"+typ)
	}
	assert.Len(t, s, 19)
}

// TestClientSchemasAgreeWithParser: messages valid per the client schemas
// parse, and the parser's refusals are refused by the schemas too.
func TestClientSchemasAgreeWithParser(t *testing.T) {
	s := loadSchemas(t)
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
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.msg))
			require.NoError(t, err)
			typ := inst.(map[string]any)["type"].(string)
			schemaErr := s["client/"+typ].Validate(inst)
			_, parseErr := session.ParseClientMessage([]byte(tc.msg))
			assert.Equal(t, tc.valid, schemaErr == nil, "schema: %v", schemaErr)
			assert.Equal(t, tc.valid, parseErr == nil, "parser: %v", parseErr)
		})
	}
}
