package silero

import "errors"

// ErrRuntime is wrapped by every error about the ONNX Runtime library:
// missing, not loadable, not an ONNX Runtime, or too old.
var ErrRuntime = errors.New("onnx runtime")

// ErrModel is wrapped by every error about the model file: missing,
// corrupted, or not a Silero VAD v5 model.
var ErrModel = errors.New("silero model")

// ErrClosed is returned by operations on a closed Engine.
var ErrClosed = errors.New("silero engine closed")
