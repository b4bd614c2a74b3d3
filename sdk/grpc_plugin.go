package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	parleyv1 "github.com/parleyhq/parley/sdk/proto/parley/v1"
)

// infoConfigureClient is the part every generated plugin client shares.
type infoConfigureClient interface {
	Info(ctx context.Context, in *parleyv1.InfoRequest, opts ...grpc.CallOption) (*parleyv1.InfoResponse, error)
	Configure(ctx context.Context, in *parleyv1.ConfigureRequest, opts ...grpc.CallOption) (*parleyv1.ConfigureResponse, error)
}

// pluginClient implements Plugin over any of the three services.
type pluginClient struct {
	rpc  infoConfigureClient
	opts []grpc.CallOption
}

// Info implements Plugin.
func (c pluginClient) Info(ctx context.Context) (Info, error) {
	resp, err := c.rpc.Info(ctx, &parleyv1.InfoRequest{}, c.opts...)
	if err != nil {
		return Info{}, fromStatus(err)
	}
	return infoFromPB(resp), nil
}

// Configure implements Plugin.
func (c pluginClient) Configure(ctx context.Context, settings json.RawMessage) error {
	_, err := c.rpc.Configure(ctx, &parleyv1.ConfigureRequest{SettingsJson: settings}, c.opts...)
	return fromStatus(err)
}

// serveInfo answers Info for any service.
func serveInfo(ctx context.Context, impl Plugin) (*parleyv1.InfoResponse, error) {
	info, err := impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp, err := infoToPB(info)
	return resp, toStatus(err)
}

// serveConfigure answers Configure for any service.
func serveConfigure(ctx context.Context, impl Plugin, req *parleyv1.ConfigureRequest) (*parleyv1.ConfigureResponse, error) {
	if err := impl.Configure(ctx, req.GetSettingsJson()); err != nil {
		return nil, toStatus(err)
	}
	return &parleyv1.ConfigureResponse{}, nil
}

// errNoConfig is the status for a bidi stream whose first message is not
// its config.
func errNoConfig(service string) error {
	return toStatus(&Error{
		Code:    CodeInvalidArgument,
		Message: service + ": the first message of the stream must carry the config",
	})
}

// errLateConfig is the status for a config message after the first one.
func errLateConfig(service string) error {
	return toStatus(&Error{Code: CodeInvalidArgument, Message: service + ": config may only be sent first"})
}

// firstRecvError maps the error of reading a stream's first message.
func firstRecvError(service string, err error) error {
	if errors.Is(err, io.EOF) {
		return errNoConfig(service)
	}
	return err
}

// streamEndError is what a server handler returns when the implementation's
// stream ended with err while its context may have been cancelled with a
// cause by the input pump: the cause (a rejected input) explains more than
// the bare context error.
func streamEndError(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) &&
			!errors.Is(cause, context.DeadlineExceeded) {
			return toStatus(cause)
		}
	}
	return toStatus(err)
}

// clientSendError maps a failed Send on a client stream. gRPC reports a
// stream that already ended as io.EOF and keeps the real status for Recv.
func clientSendError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fromStatus(ctxErr)
	}
	if errors.Is(err, io.EOF) {
		return errStreamEnded()
	}
	return fromStatus(err)
}

// errStreamEnded is the error of sending on a stream that has ended.
func errStreamEnded() error {
	return &Error{Code: CodeFailedPrecondition, Message: "stream already ended (Recv returns its status)"}
}

// emptyMessage is the status for a oneof input message with nothing set.
func emptyMessage(service string) error {
	return status.Error(codes.InvalidArgument, service+": empty input message")
}
