package vad

import (
	"math"
	"math/cmplx"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFFTMatchesDFT(t *testing.T) {
	for _, n := range []int{2, 8, 64, 512} {
		re := make([]float32, n)
		im := make([]float32, n)
		in := make([]complex128, n)
		for i := range re {
			re[i] = float32(math.Sin(float64(i)*0.7) + 0.3*math.Cos(float64(i*i)))
			in[i] = complex(float64(re[i]), 0)
		}
		newFFT(n).transform(re, im)
		for k := range n {
			var want complex128
			for j, x := range in {
				want += x * cmplx.Exp(complex(0, -2*math.Pi*float64(j*k)/float64(n)))
			}
			assert.InDelta(t, real(want), float64(re[k]), 1e-3*float64(n), "n=%d k=%d", n, k)
			assert.InDelta(t, imag(want), float64(im[k]), 1e-3*float64(n), "n=%d k=%d", n, k)
		}
	}
}

func TestRealFFTPowerMatchesComplexFFT(t *testing.T) {
	const n = 512
	x := make([]float32, 320)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.31) + 0.5*math.Cos(float64(i)*1.7) + 0.1*float64(i%7))
	}
	re := make([]float32, n)
	im := make([]float32, n)
	copy(re, x)
	newFFT(n).transform(re, im)
	got := make([]float64, n/2+1)
	newRealFFT(n).power(x, got)
	for k := range got {
		want := float64(re[k])*float64(re[k]) + float64(im[k])*float64(im[k])
		assert.InDelta(t, want, got[k], 1e-3*(1+want), "bin %d", k)
	}
}
