package plugintest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk/plugintest"
)

func TestWordErrors(t *testing.T) {
	tests := []struct {
		name, ref, hyp string
		errs, words    int
	}{
		{"exact", "what time is it", "what time is it", 0, 4},
		{"substitution", "what time is it", "what tim is it", 1, 4},
		{"deletion", "what time is it", "what is it", 1, 4},
		{"insertion", "what time is it", "what the time is it", 1, 4},
		{"empty hypothesis", "hello there", "", 2, 2},
		{"case", "Hello", "hello", 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs, words := plugintest.WordErrors(tc.ref, tc.hyp)
			require.Equal(t, tc.errs, errs)
			require.Equal(t, tc.words, words)
		})
	}
}
