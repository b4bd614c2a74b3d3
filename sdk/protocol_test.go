package sdk_test

import (
	"testing"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parleyhq/parley/sdk"
	parleyv1 "github.com/parleyhq/parley/sdk/proto/parley/v1"
)

// rawConn serves cfg and returns a plain gRPC connection to it, to speak
// the protocol the way a host in another language might.
func rawConn(t *testing.T, cfg sdk.ServeConfig, kind sdk.Kind) *grpc.ClientConn {
	t.Helper()
	set, err := cfg.PluginSet()
	require.NoError(t, err)
	served, ok := set[string(kind)].(plugin.GRPCPlugin)
	require.True(t, ok)
	conn, server := plugin.TestGRPCConn(t, func(s *grpc.Server) { require.NoError(t, served.GRPCServer(nil, s)) })
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})
	return conn
}

func TestSTTProtocolViolations(t *testing.T) {
	conn := rawConn(t, sdk.ServeConfig{STT: fakeSTT{fakeBase{sdk.KindSTT}}}, sdk.KindSTT)
	client := parleyv1.NewSTTClient(conn)
	config := &parleyv1.TranscribeRequest{Msg: &parleyv1.TranscribeRequest_Config{Config: &parleyv1.STTConfig{SampleRateHz: 16000}}}
	audio := &parleyv1.TranscribeRequest{Msg: &parleyv1.TranscribeRequest_Audio{Audio: make([]byte, 640)}}
	tests := []struct {
		name string
		send []*parleyv1.TranscribeRequest
	}{
		{"closed before config", nil},
		{"audio before config", []*parleyv1.TranscribeRequest{audio}},
		{"config twice", []*parleyv1.TranscribeRequest{config, audio, config}},
		{"empty message", []*parleyv1.TranscribeRequest{config, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := client.Transcribe(t.Context())
			require.NoError(t, err)
			for _, m := range tt.send {
				require.NoError(t, stream.Send(m))
			}
			require.NoError(t, stream.CloseSend())
			var last error
			for last == nil {
				_, last = stream.Recv()
			}
			assert.Equal(t, codes.InvalidArgument, status.Code(last), "got %v", last)
		})
	}
}

func TestTTSProtocolViolations(t *testing.T) {
	conn := rawConn(t, sdk.ServeConfig{TTS: fakeTTS{fakeBase{sdk.KindTTS}}}, sdk.KindTTS)
	client := parleyv1.NewTTSClient(conn)
	config := &parleyv1.SynthesizeRequest{Msg: &parleyv1.SynthesizeRequest_Config{Config: &parleyv1.TTSConfig{SampleRateHz: 16000}}}
	text := &parleyv1.SynthesizeRequest{Msg: &parleyv1.SynthesizeRequest_Text{Text: "hi"}}
	tests := []struct {
		name string
		send []*parleyv1.SynthesizeRequest
	}{
		{"closed before config", nil},
		{"text before config", []*parleyv1.SynthesizeRequest{text}},
		{"config twice", []*parleyv1.SynthesizeRequest{config, config}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := client.Synthesize(t.Context())
			require.NoError(t, err)
			for _, m := range tt.send {
				require.NoError(t, stream.Send(m))
			}
			require.NoError(t, stream.CloseSend())
			var last error
			for last == nil {
				_, last = stream.Recv()
			}
			assert.Equal(t, codes.InvalidArgument, status.Code(last), "got %v", last)
		})
	}
}

func TestLLMProtocolViolations(t *testing.T) {
	conn := rawConn(t, sdk.ServeConfig{LLM: fakeLLM{fakeBase{sdk.KindLLM}}}, sdk.KindLLM)
	stream, err := parleyv1.NewLLMClient(conn).Generate(t.Context(), &parleyv1.GenerateRequest{
		Messages: []*parleyv1.Message{{Content: "no role"}},
	})
	require.NoError(t, err)
	_, err = stream.Recv()
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "got %v", err)
}
