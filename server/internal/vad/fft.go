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

// newFFT plans an FFT of size n (a power of two, at least 2).
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

// realFFT computes the power spectrum of a real signal of even length n
// with one complex FFT of n/2 points (even samples as real part, odd
// samples as imaginary part, then split).
type realFFT struct {
	half   *fft
	n      int
	cos    []float32 // cos(2πk/n), k < n/2
	sin    []float32 // sin(2πk/n)
	re, im []float32
}

// newRealFFT plans a real FFT of size n (a power of two, at least 4).
func newRealFFT(n int) *realFFT {
	r := &realFFT{half: newFFT(n / 2), n: n, cos: make([]float32, n/2), sin: make([]float32, n/2),
		re: make([]float32, n/2), im: make([]float32, n/2)}
	for k := range n / 2 {
		a := 2 * math.Pi * float64(k) / float64(n)
		r.cos[k] = float32(math.Cos(a))
		r.sin[k] = float32(math.Sin(a))
	}
	return r
}

// power writes |X[k]|² for k = 0 … len(out)-1 (at most n/2+1) of the DFT of
// x (len n; missing samples are zeros).
func (r *realFFT) power(x []float32, out []float64) {
	m := r.n / 2
	for i := range m {
		var a, b float32
		if 2*i < len(x) {
			a = x[2*i]
		}
		if 2*i+1 < len(x) {
			b = x[2*i+1]
		}
		r.re[i], r.im[i] = a, b
	}
	r.half.transform(r.re, r.im)
	for k := range out {
		// Z[k] and conj(Z[m-k]) give the spectra of the even and odd
		// samples: E = (Z[k] + conj(Z[m-k]))/2, O = (Z[k] - conj(Z[m-k]))/(2i),
		// X[k] = E + e^{-2πik/n} O.
		zr, zi := r.re[k%m], r.im[k%m]
		cr, ci := r.re[(m-k)%m], -r.im[(m-k)%m]
		er, ei := (zr+cr)/2, (zi+ci)/2
		// Dividing Z - C by 2i swaps real and imaginary parts.
		or, oi := (zi-ci)/2, -(zr-cr)/2
		// Multiply by e^{-iθ}, which is c - i s; at k = m, θ = π.
		var c, s float32 = -1, 0
		if k < m {
			c, s = r.cos[k], r.sin[k]
		}
		xr := er + c*or + s*oi
		xi := ei + c*oi - s*or
		out[k] = float64(xr)*float64(xr) + float64(xi)*float64(xi)
	}
}
