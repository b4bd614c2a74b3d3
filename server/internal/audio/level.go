package audio

import "math"

// MinDBFS is the level DBFS reports for silence (and the lowest it ever
// reports), so callers never see -Inf.
const MinDBFS = -120.0

// fullScale is the magnitude of the most negative PCM16 sample.
const fullScale = 32768.0

// RMS is the root mean square of s, 0 to 32768 (0 for an empty slice).
func RMS(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	var sum float64
	for _, v := range s {
		x := float64(v)
		sum += x * x
	}
	return math.Sqrt(sum / float64(len(s)))
}

// DBFS is the RMS level of s in dB relative to full scale: at most about
// +3 for a full-scale square wave, and never below MinDBFS.
func DBFS(s []int16) float64 {
	return AmplitudeDBFS(RMS(s))
}

// AmplitudeDBFS converts an RMS amplitude (0..32768) to dBFS, clamped at
// MinDBFS.
func AmplitudeDBFS(rms float64) float64 {
	if rms <= 0 {
		return MinDBFS
	}
	return math.Max(MinDBFS, 20*math.Log10(rms/fullScale))
}
