package python_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// logPoll is how often the test looks for the plugin's log lines.
const logPoll = 10 * time.Millisecond

// TestCancelReachesPlugin: cancelling the host's context cancels the
// Python coroutine (CancelledError at its await, finally runs), and the
// plugin's log lines reach the host as slog JSON on stderr — print()
// output included.
func TestCancelReachesPlugin(t *testing.T) {
	p := launch(t, "testdata/slow_llm.py")
	raw, err := p.rpc.Dispense(string(sdk.KindLLM))
	require.NoError(t, err)
	llm, ok := raw.(sdk.LLM)
	require.True(t, ok)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := llm.Generate(ctx, sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}})
	require.NoError(t, err)
	ev, err := st.Recv()
	require.NoError(t, err)
	assert.Equal(t, "thinking", ev.TextDelta)
	cancel()
	_, err = st.Recv()
	assert.Equal(t, sdk.CodeCanceled, sdk.CodeOf(err), "Recv after cancel: %v", err)

	var record, printed map[string]any
	require.Eventually(t, func() bool {
		record, printed = nil, nil
		for _, line := range strings.Split(p.log.String(), "\n") {
			var host struct {
				Message string `json:"@message"`
			}
			if json.Unmarshal([]byte(line), &host) != nil {
				continue
			}
			// go-plugin passes a non-hclog stderr line on as the message.
			var rec map[string]any
			if json.Unmarshal([]byte(host.Message), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "generation cancelled":
				record = rec
			case "clean-up ran":
				printed = rec
			}
		}
		return record != nil && printed != nil
	}, startTimeout, logPoll, "the plugin logs its cancellation; host log:\n%s", p.log)
	assert.Equal(t, "WARN", record["level"])
	assert.Equal(t, "slow", record["logger"])
	assert.EqualValues(t, 1, record["messages"])
	assert.NotEmpty(t, record["time"])
	assert.Equal(t, "INFO", printed["level"])
	assert.Equal(t, "stdout", printed["stream"])
}
