// Command stt-deepgram is a Parley STT plugin that transcribes with
// Deepgram's live streaming WebSocket API. Parley starts it; it is not
// meant to be run by hand.
package main

import (
	"log/slog"
	"os"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginlog"
)

func main() {
	logger := pluginlog.New(os.Stderr, slog.LevelInfo)
	sdk.Serve(sdk.ServeConfig{STT: newPlugin(logger, os.Getenv)})
}
