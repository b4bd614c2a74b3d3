package vad

import (
	"math"
	"math/bits"
)

// fft is a radix-2 complex FFT of a fixed power-of-two size with its
// twiddle and bit-reversal tables computed once.
type fft struct {
	n       int
	cos     []float32
	sin     []float32
	reverse []int
}

// newFFT plans an FFT of size n (a power of two).
func newFFT(n int) *fft {
	f := &fft{n: n, cos: make([]float32, n/2), sin: make([]float32, n/2), reverse: make([]int, n)}
	for i := range n / 2 {
		a := -2 * math.Pi * float64(i) / float64(n)
		f.cos[i] = float32(math.Cos(a))
		f.sin[i] = float32(math.Sin(a))
	}
	shift := bits.UintSize - bits.TrailingZeros(uint(n))
	for i := range n {
		f.reverse[i] = int(bits.Reverse(uint(i)) >> shift)
	}
	return f
}

// transform computes the forward DFT of (re, im) in place.
func (f *fft) transform(re, im []float32) {
	n := f.n
	re, im = re[:n], im[:n]
	for i, j := range f.reverse {
		if i < j {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half := size / 2
		step := n / size
		for start := 0; start < n; start += size {
			for k := range half {
				wr, wi := f.cos[k*step], f.sin[k*step]
				a, b := start+k, start+k+half
				tr := wr*re[b] - wi*im[b]
				ti := wr*im[b] + wi*re[b]
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a] += tr
				im[a] += ti
			}
		}
	}
}
