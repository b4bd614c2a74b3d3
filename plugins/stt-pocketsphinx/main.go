// Command stt-pocketsphinx is Parley's offline speech-to-text plugin: CMU
// pocketsphinx behind the sdk.STT contract, served over go-plugin gRPC.
// Parley starts it; run by hand it prints a notice and exits.
package main

import (
	"log/slog"
	"os"

	"github.com/parleyhq/parley/plugins/stt-pocketsphinx/sphinx"
	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginlog"
)

func main() {
	// Stdout carries the go-plugin handshake; logs go to stderr, which the
	// host forwards to its own log.
	logger := pluginlog.New(os.Stderr, slog.LevelInfo).With("plugin", sphinx.Name)
	engine := sphinx.New(logger)
	sdk.Serve(sdk.ServeConfig{STT: engine})
	if err := engine.Close(); err != nil {
		logger.Error("closing decoders", "error", err)
		os.Exit(1)
	}
}
