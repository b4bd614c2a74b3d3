// Command stt-openai is a Parley STT plugin that transcribes each utterance
// with OpenAI's /audio/transcriptions endpoint (or a whisper-compatible
// server). Parley starts it; it is not meant to be run by hand.
package main

import (
	"log/slog"
	"os"

	"github.com/parleyhq/parley/sdk"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	sdk.Serve(sdk.ServeConfig{STT: newPlugin(logger, os.Getenv)})
}
