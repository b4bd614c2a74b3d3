// Package silero is the Silero VAD v5 speech detector (vad.engine
// silero): the MIT-licensed model from the npm package @ricky0123/vad-web
// run by ONNX Runtime (the library from the npm package onnxruntime-node),
// loaded at start-up through cgo by github.com/yalue/onnxruntime_go.
//
// One Engine per process holds the model and runs every session's windows
// in batches on one goroutine; each session gets a Detector with its own
// recurrent state. See README.md for the choice of runtime and the costs.
package silero
