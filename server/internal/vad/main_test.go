package vad

import (
	"testing"

	"go.uber.org/goleak"
)

// The evaluation runs flite from a few goroutines; none may outlive a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
