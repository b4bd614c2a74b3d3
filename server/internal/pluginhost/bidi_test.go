package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

// fakeSTT is an in-process STT: it reads every input until CloseSend, then
// either fails with failCode or emits a final transcript of the byte count.
type fakeSTT struct {
	failCode sdk.Code
	opened   chan struct{}
}

func (f *fakeSTT) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "fake", Kind: sdk.KindSTT}, nil
}

func (f *fakeSTT) Configure(context.Context, json.RawMessage) error { return nil }

func (f *fakeSTT) Transcribe(ctx context.Context, _ sdk.STTConfig) (sdk.STTStream, error) {
	select {
	case f.opened <- struct{}{}:
	default:
	}
	return sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
		total := 0
		for msg := range in {
			total += len(msg.Audio)
		}
		if f.failCode != "" {
			return sdk.Errorf(f.failCode, "fake failure before output")
		}
		return emit(sdk.TranscriptEvent{Text: fmt.Sprint(total), Final: true})
	}), nil
}

// runningInstance is an instance whose "process" is an in-process fake.
func runningInstance(t *testing.T, name string, stt sdk.STT) *instance {
	t.Helper()
	m, err := newMetrics(nil)
	require.NoError(t, err)
	in, err := newInstance(config.Instance{Name: name, Kind: config.KindSTT, Path: "in-process"},
		config.Plugins{}, testRes(), m, Tracing{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	in.setRunning(&generation{stt: stt, dead: make(chan struct{})})
	return in
}

func TestBidiReplayBound(t *testing.T) {
	tests := []struct {
		name      string
		bytes     int
		wantFinal string
		wantCode  sdk.Code
		bOpened   bool
	}{
		{name: "under the bound the input is replayed", bytes: 3 * frameBytes, wantFinal: "1920", bOpened: true},
		{name: "at the bound the input is replayed", bytes: maxReplayAudioBytes, wantFinal: fmt.Sprint(maxReplayAudioBytes), bOpened: true},
		{name: "past the bound the failure passes through", bytes: maxReplayAudioBytes + frameBytes, wantCode: sdk.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeSTT{opened: make(chan struct{}, 1)}
			c := &chain{kind: config.KindSTT, retry: config.Retry{MaxAttempts: 1}, logger: slog.New(slog.DiscardHandler),
				members: []*instance{
					runningInstance(t, "a", &fakeSTT{failCode: sdk.CodeUnavailable}),
					runningInstance(t, "b", b),
				}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := (&sttChain{c}).Transcribe(ctx, sdk.STTConfig{SampleRate: 16000})
			require.NoError(t, err)
			frame := make([]byte, frameBytes)
			for sent := 0; sent < tt.bytes; sent += frameBytes {
				require.NoError(t, s.SendAudio(frame[:min(frameBytes, tt.bytes-sent)]))
			}
			require.NoError(t, s.CloseSend())
			ev, err := s.Recv()
			if tt.wantCode != "" {
				require.Error(t, err)
				assert.True(t, isCode(err, tt.wantCode), "got %v", err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.wantFinal, ev.Text)
				_, err = s.Recv()
				assert.True(t, errors.Is(err, io.EOF), "got %v", err)
			}
			select {
			case <-b.opened:
				assert.True(t, tt.bOpened, "fallback opened although the input could not be replayed")
			default:
				assert.False(t, tt.bOpened, "fallback never opened")
			}
		})
	}
}
