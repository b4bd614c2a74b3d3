package main

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEval(t *testing.T) {
	cases := []struct {
		expr string
		want float64
	}{
		{"7*6", 42},
		{"12 + 30", 42},
		{"(3+4)*2", 14},
		{"2 + 3 * (4 - 1) ^ 2", 29},
		{"-2^2", -4},
		{"2^-1", 0.5},
		{"2^3^2", 512},
		{"10 % 4", 2},
		{"7/2", 3.5},
		{"--3", 3},
		{"+3 - -3", 6},
		{"1.5 * .5", 0.75},
		{"((((1))))", 1},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := Eval(tc.expr)
			require.NoError(t, err)
			assert.InDelta(t, tc.want, got, 1e-12)
		})
	}
}

func TestEvalErrors(t *testing.T) {
	cases := []struct {
		expr string
		want error
	}{
		{"1/0", ErrDivisionByZero},
		{"5 % (2-2)", ErrDivisionByZero},
		{"", ErrSyntax},
		{"1 +", ErrSyntax},
		{"(1+2", ErrSyntax},
		{"1 2", ErrSyntax},
		{"1..2", ErrSyntax},
		{"os.Exit(1)", ErrSyntax},
		{"2^99999", ErrOverflow},
		{"(-8)^0.5", ErrOverflow},
		{strings.Repeat("1+", 200) + "1", ErrTooLong},
		{strings.Repeat("(", 40) + "1" + strings.Repeat(")", 40), ErrTooDeep},
		{strings.Repeat("-", 40) + "1", ErrTooDeep},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Eval(tc.expr)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestCompactAndSpoken(t *testing.T) {
	n, err := parseExpr("(3 + 4) * 2")
	require.NoError(t, err)
	assert.Equal(t, "(3+4)*2", n.compact())
	assert.Equal(t, "three plus four times two", n.spoken())
	n, err = parseExpr("7*6")
	require.NoError(t, err)
	assert.Equal(t, "seven times six", n.spoken())
	n, err = parseExpr("1234567 - 2.5")
	require.NoError(t, err)
	assert.Equal(t, "one million two hundred and thirty-four thousand five hundred and sixty-seven minus 2.5", n.spoken())
}

func TestToArithmetic(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"seven times six", "7*6"},
		{"12 plus 30", "12+30"},
		{"(3+4)*2", "(3+4)*2"},
		{"twenty-one divided by three", "21/3"},
		{"one hundred and five minus five", "105-5"},
		{"a thousand times two?", "1000*2"},
		{"three point one four times two", "3.14*2"},
		{"five squared", "5^2"},
		{"2 to the power of 10", "2^10"},
		{"add three and four", "3+4"},
		{"subtract 2 from 10", "10-2"},
		{"10 percent of 250", "10*250/100"},
		{"negative four plus one", "-4+1"},
		{"1,000 x 3 equals", "1000*3"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := newArithmetic().toArithmetic(tc.in)
			require.True(t, ok)
			assert.Equal(t, tc.want, got)
			_, err := Eval(got)
			assert.NoError(t, err)
		})
	}
	for _, bad := range []string{"the weather", "my name", "time", "seven dwarves"} {
		_, ok := newArithmetic().toArithmetic(bad)
		assert.False(t, ok, bad)
	}
}

func TestFormatNumber(t *testing.T) {
	assert.Equal(t, "42", formatNumber(42))
	assert.Equal(t, "-3", formatNumber(-3))
	assert.Equal(t, "3.5", formatNumber(3.5))
	assert.Equal(t, "0.333333", formatNumber(1.0/3))
	assert.Equal(t, "0", formatNumber(math.Copysign(0, -1)))
}

func FuzzEval(f *testing.F) {
	for _, s := range []string{"7*6", "(3+4)*2", "-2^-2", "1/0", "((1)", "2^3^4^5", "1e5", ".5%.25"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		n, err := parseExpr(expr)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooLong) && !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrOverflow) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		v, err := n.eval()
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("%q gave non-finite %v without error", expr, v)
		}
		// The compact form is an equivalent expression.
		n2, err2 := parseExpr(n.compact())
		if err2 != nil {
			t.Fatalf("compact form %q of %q does not parse: %v", n.compact(), expr, err2)
		}
		v2, err3 := n2.eval()
		if (err == nil) != (err3 == nil) || (err == nil && v != v2) {
			t.Fatalf("compact form %q of %q evaluates differently: %v/%v vs %v/%v", n.compact(), expr, v, err, v2, err3)
		}
		_ = n.spoken()
	})
}
