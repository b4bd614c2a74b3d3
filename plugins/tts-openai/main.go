// Command tts-openai is a Parley TTS plugin that speaks with OpenAI's
// /audio/speech endpoint (or any server compatible with it), sentence by
// sentence. Parley starts it; it is not meant to be run by hand.
package main

import (
	"log/slog"
	"os"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginlog"
)

func main() {
	logger := pluginlog.New(os.Stderr, slog.LevelInfo)
	sdk.Serve(sdk.ServeConfig{TTS: newPlugin(logger, os.Getenv)})
}
