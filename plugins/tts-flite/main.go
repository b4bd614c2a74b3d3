// Command tts-flite is Parley's offline text-to-speech plugin: CMU Flite
// voices (slt, kal16, awb, rms, kal) linked in through cgo, speaking text
// sentence by sentence as it streams in. Parley starts it as a go-plugin
// process; run by hand it prints a notice and exits.
package main

import (
	"log/slog"
	"os"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginlog"
)

func main() {
	logger := pluginlog.New(os.Stderr, slog.LevelInfo)
	sdk.Serve(sdk.ServeConfig{TTS: NewEngine(logger)})
}
