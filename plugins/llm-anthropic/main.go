package main

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginlog"
	"github.com/parleyhq/parley/sdk/tracing"
)

func main() {
	// go-plugin forwards the plugin's stderr to the host's log.
	logger := pluginlog.New(os.Stderr, slog.LevelInfo)
	// No client-wide timeout: the stream is bounded per request by the
	// request, first-byte and idle timeouts from the settings. The
	// transport sends the trace context to the provider.
	client := &http.Client{Transport: tracing.Transport(nil)}
	sdk.Serve(sdk.ServeConfig{LLM: newPlugin(client, os.Getenv, logger)})
}
