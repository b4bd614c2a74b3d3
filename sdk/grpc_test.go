package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/parleyhq/parley/sdk"
)

func TestSTTOverGRPC(t *testing.T) {
	stt, ok := dispense(t, sdk.ServeConfig{STT: fakeSTT{fakeBase{sdk.KindSTT}}}, sdk.KindSTT).(sdk.STT)
	require.True(t, ok)
	ctx := t.Context()

	info, err := stt.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, sdk.Info{
		Name: "fake-stt", Version: "0.0.1", Kind: sdk.KindSTT, Capabilities: []string{"test"},
		AudioFormats: []sdk.AudioFormat{{Encoding: sdk.EncodingPCM16LE, SampleRate: 16000, Channels: 1}},
	}, info)

	st, err := stt.Transcribe(ctx, sdk.STTConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE, InterimResults: true})
	require.NoError(t, err)
	require.NoError(t, st.SendAudio(make([]byte, 640)))
	ev, err := st.Recv()
	require.NoError(t, err)
	assert.Equal(t, sdk.TranscriptEvent{Text: "640", Confidence: 0.5, End: 20 * time.Millisecond}, ev)
	require.NoError(t, st.SendAudio(make([]byte, 32000)))
	_, err = st.Recv()
	require.NoError(t, err)
	require.NoError(t, st.Flush())
	ev, err = st.Recv()
	require.NoError(t, err)
	assert.Equal(t, "32640", ev.Text)
	assert.True(t, ev.Final)
	require.NoError(t, st.CloseSend())
	ev, err = st.Recv()
	require.NoError(t, err)
	assert.True(t, ev.Final)
	_, err = st.Recv()
	assert.ErrorIs(t, err, io.EOF)
}

func TestSTTErrorsOverGRPC(t *testing.T) {
	stt, ok := dispense(t, sdk.ServeConfig{STT: fakeSTT{fakeBase{sdk.KindSTT}}}, sdk.KindSTT).(sdk.STT)
	require.True(t, ok)
	ctx := t.Context()

	t.Run("open rejected", func(t *testing.T) {
		st, err := stt.Transcribe(ctx, sdk.STTConfig{SampleRate: 8000})
		if err == nil {
			// The rejection may arrive with the first Recv.
			_, err = st.Recv()
		}
		var e *sdk.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, sdk.CodeInvalidArgument, e.Code)
		assert.Equal(t, map[string]string{"field": "sample_rate"}, e.Details)
	})
	t.Run("stream fails", func(t *testing.T) {
		st, err := stt.Transcribe(ctx, sdk.STTConfig{SampleRate: 16000})
		require.NoError(t, err)
		require.NoError(t, st.SendAudio([]byte{0xFF, 0}))
		_, err = st.Recv()
		var e *sdk.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, sdk.CodeResourceExhausted, e.Code)
		assert.Equal(t, 1500*time.Millisecond, e.RetryAfter)
	})
	t.Run("bad encoding never leaves the host", func(t *testing.T) {
		_, err := stt.Transcribe(ctx, sdk.STTConfig{SampleRate: 16000, Encoding: "mp3"})
		assert.ErrorIs(t, err, &sdk.Error{Code: sdk.CodeInvalidArgument})
	})
}

func TestTTSOverGRPC(t *testing.T) {
	tts, ok := dispense(t, sdk.ServeConfig{TTS: fakeTTS{fakeBase{sdk.KindTTS}}}, sdk.KindTTS).(sdk.TTS)
	require.True(t, ok)
	st, err := tts.Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE, Voice: "v", Speed: 1.5})
	require.NoError(t, err)
	require.NoError(t, st.SendText("Hello. "))
	require.NoError(t, st.SendText("World."))
	require.NoError(t, st.Flush())
	require.NoError(t, st.CloseSend())
	var chunks []sdk.AudioChunk
	for {
		c, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		chunks = append(chunks, c)
	}
	require.Len(t, chunks, 2)
	assert.Equal(t, [2]int{0, 7}, [2]int{chunks[0].TextStart, chunks[0].TextEnd})
	assert.Equal(t, [2]int{7, 13}, [2]int{chunks[1].TextStart, chunks[1].TextEnd})
	assert.Len(t, chunks[1].PCM, 6*160*2)
	assert.Equal(t, 16000, chunks[1].SampleRate)
}

func TestLLMOverGRPC(t *testing.T) {
	llm, ok := dispense(t, sdk.ServeConfig{LLM: fakeLLM{fakeBase{sdk.KindLLM}}}, sdk.KindLLM).(sdk.LLM)
	require.True(t, ok)
	temp := float32(0.2)
	st, err := llm.Generate(t.Context(), sdk.GenerateRequest{
		Messages: []sdk.Message{
			{Role: sdk.RoleSystem, Content: "be brief"},
			{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{{ID: "c0", Name: "f", Arguments: json.RawMessage(`{}`)}}},
			{Role: sdk.RoleTool, ToolCallID: "c0", Content: "oops", IsError: true},
			{Role: sdk.RoleUser, Content: "tool"},
		},
		Tools:       []sdk.Tool{{Name: "lookup", Description: "d", Parameters: json.RawMessage(`{"type":"object"}`)}},
		MaxTokens:   10,
		Temperature: &temp,
	})
	require.NoError(t, err)
	var events []sdk.GenerateEvent
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		events = append(events, ev)
	}
	assert.Equal(t, []sdk.GenerateEvent{
		{TextDelta: "tool"},
		{ToolCall: &sdk.ToolCall{ID: "c1", Name: "lookup", Arguments: json.RawMessage(`{"q":1}`)}},
		{Done: &sdk.Done{StopReason: sdk.StopToolUse, Usage: sdk.Usage{InputTokens: 3, OutputTokens: 4}}},
	}, events)

	_, err = llm.Generate(t.Context(), sdk.GenerateRequest{Messages: []sdk.Message{{Role: "robot"}}})
	assert.ErrorIs(t, err, &sdk.Error{Code: sdk.CodeInvalidArgument})
}

func TestDispenseWrongKind(t *testing.T) {
	set, err := sdk.ServeConfig{STT: fakeSTT{fakeBase{sdk.KindSTT}}}.PluginSet()
	require.NoError(t, err)
	served, ok := set[string(sdk.KindSTT)].(plugin.GRPCPlugin)
	require.True(t, ok)
	conn, server := plugin.TestGRPCConn(t, func(s *grpc.Server) { require.NoError(t, served.GRPCServer(nil, s)) })
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})

	for _, kind := range []sdk.Kind{sdk.KindLLM, sdk.KindTTS} {
		t.Run(string(kind), func(t *testing.T) {
			host, ok := sdk.ClientPlugins()[sdk.ProtocolVersion][string(kind)].(plugin.GRPCPlugin)
			require.True(t, ok)
			_, err := host.GRPCClient(t.Context(), nil, conn)
			require.ErrorIs(t, err, &sdk.Error{Code: sdk.CodeUnimplemented})
			assert.Contains(t, err.Error(), `plugin does not serve kind "`+string(kind)+`"`)
		})
	}
	t.Run("stt", func(t *testing.T) {
		host, ok := sdk.ClientPlugins()[sdk.ProtocolVersion][string(sdk.KindSTT)].(plugin.GRPCPlugin)
		require.True(t, ok)
		raw, err := host.GRPCClient(t.Context(), nil, conn)
		require.NoError(t, err)
		assert.Implements(t, (*sdk.STT)(nil), raw)
	})
}

func TestCancelPropagates(t *testing.T) {
	llm, ok := dispense(t, sdk.ServeConfig{LLM: fakeLLM{fakeBase{sdk.KindLLM}}}, sdk.KindLLM).(sdk.LLM)
	require.True(t, ok)
	ctx, cancel := context.WithCancel(t.Context())
	st, err := llm.Generate(ctx, sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "block"}}})
	require.NoError(t, err)
	_, err = st.Recv()
	require.NoError(t, err)
	cancel()
	_, err = st.Recv()
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, &sdk.Error{Code: sdk.CodeCanceled})
}

func TestServeConfigValidate(t *testing.T) {
	stt, tts := fakeSTT{fakeBase{sdk.KindSTT}}, fakeTTS{fakeBase{sdk.KindTTS}}
	tests := []struct {
		name string
		cfg  sdk.ServeConfig
		kind sdk.Kind
	}{
		{"none", sdk.ServeConfig{}, ""},
		{"two", sdk.ServeConfig{STT: stt, TTS: tts}, ""},
		{"stt", sdk.ServeConfig{STT: stt}, sdk.KindSTT},
		{"tts", sdk.ServeConfig{TTS: tts}, sdk.KindTTS},
		{"llm", sdk.ServeConfig{LLM: fakeLLM{fakeBase{sdk.KindLLM}}}, sdk.KindLLM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := tt.cfg.PluginSet()
			if tt.kind == "" {
				require.Error(t, tt.cfg.Validate())
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, set, 1)
			assert.Contains(t, set, string(tt.kind))
		})
	}
}

func TestHandshake(t *testing.T) {
	hs := sdk.HandshakeConfig()
	assert.Equal(t, "PARLEY_PLUGIN", hs.MagicCookieKey)
	assert.NotEmpty(t, hs.MagicCookieValue)
	assert.Equal(t, uint(sdk.ProtocolVersion), hs.ProtocolVersion)
	plugins := sdk.ClientPlugins()
	require.Contains(t, plugins, sdk.ProtocolVersion)
	assert.Len(t, plugins[sdk.ProtocolVersion], 3)
	assert.NotEmpty(t, sdk.DialOptions())
}
