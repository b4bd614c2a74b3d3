// Command llm-rules is Parley's offline conversational agent: a small,
// deterministic rule engine (YAML patterns and reply templates) that talks
// like a streaming LLM and calls the host's tools (time, calculator, end of
// session). It is not a neural language model. Parley starts it as a
// go-plugin process; run by hand it prints a notice and exits.
package main

import (
	"log/slog"
	"os"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginlog"
)

func main() {
	logger := pluginlog.New(os.Stderr, slog.LevelInfo)
	e, err := NewEngine(logger)
	if err != nil {
		logger.Error("cannot start", "error", err)
		os.Exit(1)
	}
	sdk.Serve(sdk.ServeConfig{LLM: e})
}
