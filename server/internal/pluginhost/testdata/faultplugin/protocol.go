package main

import (
	"context"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/parleyhq/parley/sdk"
)

// serveOtherProtocol speaks Parley's handshake with another protocol
// version, as a plugin built against a future or past sdk would, using
// plain go-plugin. It serves no services: the host must refuse it at the
// handshake.
func serveOtherProtocol(version int) {
	hs := sdk.HandshakeConfig()
	hs.ProtocolVersion = uint(version)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{version: {"stt": emptyPlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

// emptyPlugin is a gRPC plugin with no services.
type emptyPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (emptyPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }

func (emptyPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}
