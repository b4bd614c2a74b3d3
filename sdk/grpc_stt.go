package sdk

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"google.golang.org/grpc"

	parleyv1 "github.com/parleyhq/parley/sdk/proto/parley/v1"
)

const sttService = "stt"

// grpcSTTClient is the host side of an STT plugin.
type grpcSTTClient struct {
	pluginClient
	rpc parleyv1.STTClient
}

var _ STT = (*grpcSTTClient)(nil)

func newSTTClient(conn grpc.ClientConnInterface) *grpcSTTClient {
	rpc := parleyv1.NewSTTClient(conn)
	return &grpcSTTClient{pluginClient: pluginClient{rpc: rpc, opts: callOptions()}, rpc: rpc}
}

// Transcribe implements STT: it opens the gRPC stream and sends cfg first.
func (c *grpcSTTClient) Transcribe(ctx context.Context, cfg STTConfig) (STTStream, error) {
	pcfg, err := sttConfigToPB(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.rpc.Transcribe(ctx, c.opts...)
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	s := &grpcSTTStream{stream: stream, cancel: cancel}
	if err := stream.Send(&parleyv1.TranscribeRequest{Msg: &parleyv1.TranscribeRequest_Config{Config: pcfg}}); err != nil {
		err = clientSendError(ctx, err)
		if errors.Is(err, &Error{Code: CodeFailedPrecondition}) {
			// The server refused the stream at once: its status says why.
			_, err = s.Recv()
		}
		cancel()
		return nil, err
	}
	return s, nil
}

// grpcSTTStream is the host side of one recognition stream.
type grpcSTTStream struct {
	stream parleyv1.STT_TranscribeClient
	cancel context.CancelFunc
	// ended is set by Recv before it releases the stream after its last message.
	ended atomic.Bool
	audio parleyv1.TranscribeRequest_Audio
	req   parleyv1.TranscribeRequest
}

var _ STTStream = (*grpcSTTStream)(nil)

// SendAudio implements STTStream. The message structs are reused: gRPC has
// serialized them when Send returns.
func (s *grpcSTTStream) SendAudio(pcm []byte) error {
	s.audio.Audio = pcm
	s.req.Msg = &s.audio
	err := s.stream.Send(&s.req)
	s.audio.Audio = nil
	if err != nil {
		return s.sendError(err)
	}
	return nil
}

// Flush implements STTStream.
func (s *grpcSTTStream) Flush() error {
	err := s.stream.Send(&parleyv1.TranscribeRequest{Msg: &parleyv1.TranscribeRequest_Flush{Flush: &parleyv1.Flush{}}})
	if err != nil {
		return s.sendError(err)
	}
	return nil
}

// CloseSend implements STTStream.
func (s *grpcSTTStream) CloseSend() error {
	if err := s.stream.CloseSend(); err != nil {
		return s.sendError(err)
	}
	return nil
}

// Recv implements STTStream.
func (s *grpcSTTStream) Recv() (TranscriptEvent, error) {
	resp, err := s.stream.Recv()
	if err != nil {
		s.ended.Store(true)
		s.cancel()
		if errors.Is(err, io.EOF) {
			return TranscriptEvent{}, io.EOF
		}
		return TranscriptEvent{}, fromStatus(err)
	}
	return transcriptFromPB(resp), nil
}

// sttServer is the plugin side of STT.
type sttServer struct {
	parleyv1.UnimplementedSTTServer
	impl STT
}

var _ parleyv1.STTServer = (*sttServer)(nil)

func registerSTT(s grpc.ServiceRegistrar, impl STT) {
	parleyv1.RegisterSTTServer(s, &sttServer{impl: impl})
}

// Info implements parleyv1.STTServer.
func (s *sttServer) Info(ctx context.Context, _ *parleyv1.InfoRequest) (*parleyv1.InfoResponse, error) {
	return serveInfo(ctx, s.impl)
}

// Configure implements parleyv1.STTServer.
func (s *sttServer) Configure(ctx context.Context, req *parleyv1.ConfigureRequest) (*parleyv1.ConfigureResponse, error) {
	return serveConfigure(ctx, s.impl, req)
}

// Transcribe implements parleyv1.STTServer: it reads the config, opens the
// implementation's stream, pumps input from a goroutine and output from
// this one. Returning ends the gRPC stream, which ends the input pump's
// Recv; the deferred cancel ends the implementation's stream.
func (s *sttServer) Transcribe(gs parleyv1.STT_TranscribeServer) error {
	first, err := gs.Recv()
	if err != nil {
		return firstRecvError(sttService, err)
	}
	cfg := first.GetConfig()
	if cfg == nil {
		return errNoConfig(sttService)
	}
	ctx, cancel := context.WithCancelCause(gs.Context())
	defer cancel(nil)
	st, err := s.impl.Transcribe(ctx, sttConfigFromPB(cfg))
	if err != nil {
		return toStatus(err)
	}
	go pumpSTTInput(gs, st, cancel)
	var out parleyv1.TranscribeResponse
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return streamEndError(ctx, err)
		}
		transcriptIntoPB(&out, ev)
		if err := gs.Send(&out); err != nil {
			return err
		}
	}
}

// pumpSTTInput forwards the host's audio and flushes to the implementation
// until the host half-closes (then CloseSend) or the stream fails (then the
// implementation's context is cancelled with the reason).
func pumpSTTInput(gs parleyv1.STT_TranscribeServer, st STTStream, cancel context.CancelCauseFunc) {
	var req parleyv1.TranscribeRequest
	for {
		// Reset keeps RecvMsg from merging into the previous message; the
		// audio slice itself is freshly allocated by the decoder.
		req.Reset()
		err := gs.RecvMsg(&req)
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
		case *parleyv1.TranscribeRequest_Audio:
			err = st.SendAudio(m.Audio)
		case *parleyv1.TranscribeRequest_Flush:
			err = st.Flush()
		case *parleyv1.TranscribeRequest_Config:
			err = errLateConfig(sttService)
		default:
			err = emptyMessage(sttService)
		}
		if err != nil {
			cancel(err)
			return
		}
	}
}

// sendError maps a failed Send; after Recv saw the end, the stream's own
// cancel must not read as the host cancelling.
func (s *grpcSTTStream) sendError(err error) error {
	if s.ended.Load() {
		return errStreamEnded()
	}
	return clientSendError(s.stream.Context(), err)
}
