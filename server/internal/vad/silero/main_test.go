package silero

import (
	"testing"

	"go.uber.org/goleak"
)

// Every Engine starts a batcher goroutine; Close must stop it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
