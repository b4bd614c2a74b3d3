package sdk

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	parleyv1 "github.com/parleyhq/parley/sdk/proto/parley/v1"
)

// grpcLLMClient is the host side of an LLM plugin.
type grpcLLMClient struct {
	pluginClient
	rpc parleyv1.LLMClient
}

var _ LLM = (*grpcLLMClient)(nil)

func newLLMClient(conn grpc.ClientConnInterface) *grpcLLMClient {
	rpc := parleyv1.NewLLMClient(conn)
	return &grpcLLMClient{pluginClient: pluginClient{rpc: rpc, opts: callOptions()}, rpc: rpc}
}

// Generate implements LLM.
func (c *grpcLLMClient) Generate(ctx context.Context, req GenerateRequest) (LLMStream, error) {
	preq, err := generateRequestToPB(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.rpc.Generate(ctx, preq, c.opts...)
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	return &grpcLLMStream{stream: stream, cancel: cancel}, nil
}

// grpcLLMStream is the host side of one generation.
type grpcLLMStream struct {
	stream parleyv1.LLM_GenerateClient
	cancel context.CancelFunc
}

var _ LLMStream = (*grpcLLMStream)(nil)

// Recv implements LLMStream.
func (s *grpcLLMStream) Recv() (GenerateEvent, error) {
	resp, err := s.stream.Recv()
	if err != nil {
		s.cancel()
		if errors.Is(err, io.EOF) {
			return GenerateEvent{}, io.EOF
		}
		return GenerateEvent{}, fromStatus(err)
	}
	ev, err := generateEventFromPB(resp)
	if err != nil {
		s.cancel()
		return GenerateEvent{}, err
	}
	return ev, nil
}

// llmServer is the plugin side of LLM.
type llmServer struct {
	parleyv1.UnimplementedLLMServer
	impl LLM
}

var _ parleyv1.LLMServer = (*llmServer)(nil)

func registerLLM(s grpc.ServiceRegistrar, impl LLM) {
	parleyv1.RegisterLLMServer(s, &llmServer{impl: impl})
}

// Info implements parleyv1.LLMServer.
func (s *llmServer) Info(ctx context.Context, _ *parleyv1.InfoRequest) (*parleyv1.InfoResponse, error) {
	return serveInfo(ctx, s.impl)
}

// Configure implements parleyv1.LLMServer.
func (s *llmServer) Configure(ctx context.Context, req *parleyv1.ConfigureRequest) (*parleyv1.ConfigureResponse, error) {
	return serveConfigure(ctx, s.impl, req)
}

// Generate implements parleyv1.LLMServer.
func (s *llmServer) Generate(req *parleyv1.GenerateRequest, gs parleyv1.LLM_GenerateServer) error {
	r, err := generateRequestFromPB(req)
	if err != nil {
		return toStatus(err)
	}
	ctx, cancel := context.WithCancel(gs.Context())
	defer cancel()
	st, err := s.impl.Generate(ctx, r)
	if err != nil {
		return toStatus(err)
	}
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return toStatus(err)
		}
		resp, err := generateEventToPB(ev)
		if err != nil {
			return toStatus(err)
		}
		if err := gs.Send(resp); err != nil {
			return err
		}
	}
}
