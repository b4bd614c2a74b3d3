package python_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parleyhq/parley/sdk"
	parleyv1 "github.com/parleyhq/parley/sdk/proto/parley/v1"
)

// TestErrorMidStream: a Python plugin that raises after its first chunk
// gives the host the *sdk.Error a Go plugin returning the same error
// would: code, message, details and retry-after cross the boundary.
func TestErrorMidStream(t *testing.T) {
	p := launch(t, "testdata/raising_tts.py")
	raw, err := p.rpc.Dispense(string(sdk.KindTTS))
	require.NoError(t, err)
	tts, ok := raw.(sdk.TTS)
	require.True(t, ok)
	tests := []struct {
		text string
		want sdk.Error
	}{
		{"quota now", sdk.Error{Code: sdk.CodeResourceExhausted, Message: "quota exceeded",
			Details: map[string]string{"provider": "fake"}, RetryAfter: 2500 * time.Millisecond}},
		{"down now", sdk.Error{Code: sdk.CodeUnavailable, Message: "provider down"}},
		{"bug now", sdk.Error{Code: sdk.CodeInternal, Message: "RuntimeError: something broke"}},
		{"field now", sdk.Error{Code: sdk.CodeInvalidArgument, Message: "voice: unknown", Details: map[string]string{"field": "voice"}}},
	}
	for _, c := range []sdk.Code{
		sdk.CodeCanceled, sdk.CodeInvalidArgument, sdk.CodeDeadlineExceeded, sdk.CodeNotFound,
		sdk.CodePermissionDenied, sdk.CodeResourceExhausted, sdk.CodeFailedPrecondition,
		sdk.CodeUnimplemented, sdk.CodeInternal, sdk.CodeUnavailable, sdk.CodeUnauthenticated,
	} {
		word := "code=" + string(c)
		tests = append(tests, struct {
			text string
			want sdk.Error
		}{word, sdk.Error{Code: c, Message: "raised " + word}})
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
			defer cancel()
			st, err := tts.Synthesize(ctx, sdk.TTSConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE})
			require.NoError(t, err)
			require.NoError(t, st.SendText(tt.text))
			chunk, err := st.Recv()
			require.NoError(t, err, "the chunk before the failure arrives")
			assert.Len(t, chunk.PCM, 320)
			_, err = st.Recv()
			require.Error(t, err)
			require.NotErrorIs(t, err, io.EOF)
			var e *sdk.Error
			require.True(t, errors.As(err, &e), "an *sdk.Error: %v", err)
			assert.Equal(t, tt.want.Code, e.Code)
			assert.Equal(t, tt.want.Message, e.Message)
			assert.Equal(t, tt.want.Details, e.Details)
			assert.Equal(t, tt.want.RetryAfter, e.RetryAfter)
			assert.ErrorIs(t, err, &sdk.Error{Code: tt.want.Code})
		})
	}
}

// TestStreamProtocolErrors: a bidi stream that does not start with its
// config, or sends one later, is refused with the Go SDK's
// invalid_argument errors (checked with the raw generated client, since
// the sdk adapters never send such streams).
func TestStreamProtocolErrors(t *testing.T) {
	p := launch(t, "examples/tts_tone.py")
	gc, ok := p.rpc.(*plugin.GRPCClient)
	require.True(t, ok)
	rpc := parleyv1.NewTTSClient(gc.Conn)
	config := &parleyv1.SynthesizeRequest{Msg: &parleyv1.SynthesizeRequest_Config{Config: &parleyv1.TTSConfig{SampleRateHz: 16000}}}
	text := &parleyv1.SynthesizeRequest{Msg: &parleyv1.SynthesizeRequest_Text{Text: "hi "}}
	tests := []struct {
		name string
		send []*parleyv1.SynthesizeRequest
		want string
	}{
		{"text first", []*parleyv1.SynthesizeRequest{text}, "tts: the first message of the stream must carry the config"},
		{"nothing", nil, "tts: the first message of the stream must carry the config"},
		{"config twice", []*parleyv1.SynthesizeRequest{config, config}, "tts: config may only be sent first"},
		{"empty message", []*parleyv1.SynthesizeRequest{config, {}}, "tts: empty input message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
			defer cancel()
			st, err := rpc.Synthesize(ctx)
			require.NoError(t, err)
			for _, m := range tt.send {
				require.NoError(t, st.Send(m))
			}
			require.NoError(t, st.CloseSend())
			for {
				_, err = st.Recv()
				if err != nil {
					break
				}
			}
			s, ok := status.FromError(err)
			require.True(t, ok, "a gRPC status: %v", err)
			assert.Equal(t, codes.InvalidArgument, s.Code())
			assert.Equal(t, tt.want, s.Message())
		})
	}
}
