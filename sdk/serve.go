package sdk

// ServeConfig names the implementation a plugin binary serves. Set exactly
// one of STT, LLM or TTS.
type ServeConfig struct {
	STT STT
	LLM LLM
	TTS TTS
}
