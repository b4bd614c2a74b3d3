// Package silero is the Silero VAD v5 speech model (vad.engine silero):
// the MIT-licensed model from the npm package @ricky0123/vad-web run by
// ONNX Runtime (the library from the npm package onnxruntime-node), which
// github.com/yalue/onnxruntime_go opens at start-up through cgo.
//
// One Engine per process holds the model and runs the 32 ms windows of
// every session in batches on one goroutine; each session gets a Stream
// with its own recurrent state, a vad.Prober that vad.ProbabilityDetector
// turns into speech decisions. See README.md for the choice of runtime and
// the costs.
package silero
