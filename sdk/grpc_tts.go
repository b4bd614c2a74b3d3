package sdk

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"google.golang.org/grpc"

	parleyv1 "github.com/parleyhq/parley/sdk/proto/parley/v1"
)

const ttsService = "tts"

// grpcTTSClient is the host side of a TTS plugin.
type grpcTTSClient struct {
	pluginClient
	rpc parleyv1.TTSClient
}

var _ TTS = (*grpcTTSClient)(nil)

func newTTSClient(conn grpc.ClientConnInterface) *grpcTTSClient {
	rpc := parleyv1.NewTTSClient(conn)
	return &grpcTTSClient{pluginClient: pluginClient{rpc: rpc, opts: callOptions()}, rpc: rpc}
}

// Synthesize implements TTS: it opens the gRPC stream and sends cfg first.
func (c *grpcTTSClient) Synthesize(ctx context.Context, cfg TTSConfig) (TTSStream, error) {
	pcfg, err := ttsConfigToPB(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.rpc.Synthesize(ctx, c.opts...)
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	s := &grpcTTSStream{stream: stream, cancel: cancel}
	if err := stream.Send(&parleyv1.SynthesizeRequest{Msg: &parleyv1.SynthesizeRequest_Config{Config: pcfg}}); err != nil {
		err = clientSendError(ctx, err)
		if errors.Is(err, &Error{Code: CodeFailedPrecondition}) {
			_, err = s.Recv()
		}
		cancel()
		return nil, err
	}
	return s, nil
}

// grpcTTSStream is the host side of one synthesis stream.
type grpcTTSStream struct {
	stream parleyv1.TTS_SynthesizeClient
	cancel context.CancelFunc
	// ended is set by Recv before it releases the stream after its last message.
	ended atomic.Bool
}

var _ TTSStream = (*grpcTTSStream)(nil)

// SendText implements TTSStream.
func (s *grpcTTSStream) SendText(text string) error {
	err := s.stream.Send(&parleyv1.SynthesizeRequest{Msg: &parleyv1.SynthesizeRequest_Text{Text: text}})
	if err != nil {
		return s.sendError(err)
	}
	return nil
}

// Flush implements TTSStream.
func (s *grpcTTSStream) Flush() error {
	err := s.stream.Send(&parleyv1.SynthesizeRequest{Msg: &parleyv1.SynthesizeRequest_Flush{Flush: &parleyv1.Flush{}}})
	if err != nil {
		return s.sendError(err)
	}
	return nil
}

// CloseSend implements TTSStream.
func (s *grpcTTSStream) CloseSend() error {
	if err := s.stream.CloseSend(); err != nil {
		return s.sendError(err)
	}
	return nil
}

// Recv implements TTSStream.
func (s *grpcTTSStream) Recv() (AudioChunk, error) {
	resp, err := s.stream.Recv()
	if err != nil {
		s.ended.Store(true)
		s.cancel()
		if errors.Is(err, io.EOF) {
			return AudioChunk{}, io.EOF
		}
		return AudioChunk{}, fromStatus(err)
	}
	return audioChunkFromPB(resp), nil
}

// ttsServer is the plugin side of TTS.
type ttsServer struct {
	parleyv1.UnimplementedTTSServer
	impl TTS
}

var _ parleyv1.TTSServer = (*ttsServer)(nil)

func registerTTS(s grpc.ServiceRegistrar, impl TTS) {
	parleyv1.RegisterTTSServer(s, &ttsServer{impl: impl})
}

// Info implements parleyv1.TTSServer.
func (s *ttsServer) Info(ctx context.Context, _ *parleyv1.InfoRequest) (*parleyv1.InfoResponse, error) {
	return serveInfo(ctx, s.impl)
}

// Configure implements parleyv1.TTSServer.
func (s *ttsServer) Configure(ctx context.Context, req *parleyv1.ConfigureRequest) (*parleyv1.ConfigureResponse, error) {
	return serveConfigure(ctx, s.impl, req)
}

// Synthesize implements parleyv1.TTSServer the same way sttServer.Transcribe
// does: config first, input pumped from a goroutine, output from this one.
func (s *ttsServer) Synthesize(gs parleyv1.TTS_SynthesizeServer) error {
	first, err := gs.Recv()
	if err != nil {
		return firstRecvError(ttsService, err)
	}
	cfg := first.GetConfig()
	if cfg == nil {
		return errNoConfig(ttsService)
	}
	ctx, cancel := context.WithCancelCause(gs.Context())
	defer cancel(nil)
	st, err := s.impl.Synthesize(ctx, ttsConfigFromPB(cfg))
	if err != nil {
		return toStatus(err)
	}
	go pumpTTSInput(gs, st, cancel)
	for {
		chunk, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return streamEndError(ctx, err)
		}
		if err := gs.Send(audioChunkToPB(chunk)); err != nil {
			return err
		}
	}
}

// pumpTTSInput forwards the host's text and flushes to the implementation
// until the host half-closes (then CloseSend) or the stream fails.
func pumpTTSInput(gs parleyv1.TTS_SynthesizeServer, st TTSStream, cancel context.CancelCauseFunc) {
	for {
		req, err := gs.Recv()
		if errors.Is(err, io.EOF) {
			if err := st.CloseSend(); err != nil {
				cancel(err)
			}
			return
		}
		if err != nil {
			cancel(err)
			return
		}
		switch m := req.GetMsg().(type) {
		case *parleyv1.SynthesizeRequest_Text:
			err = st.SendText(m.Text)
		case *parleyv1.SynthesizeRequest_Flush:
			err = st.Flush()
		case *parleyv1.SynthesizeRequest_Config:
			err = errLateConfig(ttsService)
		default:
			err = emptyMessage(ttsService)
		}
		if err != nil {
			cancel(err)
			return
		}
	}
}

// sendError maps a failed Send; after Recv saw the end, the stream's own
// cancel must not read as the host cancelling.
func (s *grpcTTSStream) sendError(err error) error {
	if s.ended.Load() {
		return errStreamEnded()
	}
	return clientSendError(s.stream.Context(), err)
}
