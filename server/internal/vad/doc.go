// Package vad decides which 20 ms frames hold speech and turns those
// decisions into speech start/stop events.
//
// A Detector labels single frames. EnergyDetector is the built-in pure-Go
// one (vad.engine energy). ProbabilityDetector runs a Prober — a model that
// gives each frame a speech probability, such as the Silero VAD streams of
// package silero (vad.engine silero) — through a Hysteresis: speech starts
// at EnterProbability and lasts down to ExitProbability, so a probability
// hovering near one threshold does not flicker.
//
// A Segmenter wraps any Detector and applies the turn-taking rules of
// config.VAD: speech must last MinSpeech before SpeechStarted (so a cough
// is ignored), silence must last MinSilence before SpeechStopped (the end
// of a turn), and the PreRoll audio before the onset is handed out with
// SpeechStarted so the first syllables reach STT. Its max-utterance guard
// ends a speech run that lasted MaxUtterance with a forced SpeechStopped
// (Result.Forced), so babble or a steady noise the detector takes for
// speech cannot hold a turn open forever; after a forced stop speech starts
// again only after RearmSilence of non-speech.
//
// Detectors and Segmenters belong to one audio stream and are not safe for
// concurrent use. Nothing here starts goroutines.
package vad
