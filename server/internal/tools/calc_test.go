package tools_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/tools"
)

func TestEval(t *testing.T) {
	ok := map[string]float64{
		"1+2": 3, "2 + 3 * 4": 14, "(2+3)*4": 20, "2^3^2": 512, "2**10": 1024, "-3^2": -9, "10 % 4": 2,
		"7/2": 3.5, "1.5e3 + .5": 1500.5, "--4": 4, "+(1)": 1, " 42 ": 42, "2*-3": -6,
	}
	for in, want := range ok {
		t.Run(in, func(t *testing.T) {
			got, err := tools.Eval(in)
			require.NoError(t, err)
			assert.InDelta(t, want, got, 1e-9)
		})
	}
	bad := []string{"", "1/0", "5%0", "(1", "1)", "2+", "abc", "1..2", "os.Exit(1)", "9^999",
		strings.Repeat("(", 40) + "1" + strings.Repeat(")", 40), strings.Repeat("1+", 200) + "1", strings.Repeat("-", 50) + "1"}
	for _, in := range bad {
		t.Run("bad "+in, func(t *testing.T) {
			_, err := tools.Eval(in)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tools.ErrInvalidExpression))
		})
	}
}

// FuzzEval: no input panics or hangs, and results are finite.
func FuzzEval(f *testing.F) {
	for _, s := range []string{"1+2*3", "(1+2)^3", "-.5e-3 % 2", "((((1))))", "2**-1", "1/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := tools.Eval(in)
		if err != nil {
			if !errors.Is(err, tools.ErrInvalidExpression) {
				t.Fatalf("error does not wrap ErrInvalidExpression: %v", err)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite result %v for %q", v, in)
		}
	})
}
