// Package vad decides which 20 ms frames hold speech and turns those
// decisions into speech start/stop events.
//
// A Detector labels single frames; EnergyDetector is the built-in pure-Go
// one. A Segmenter wraps any Detector and applies the turn-taking rules of
// config.VAD: speech must last MinSpeech before SpeechStarted (so a cough
// is ignored), silence must last MinSilence before SpeechStopped (the end
// of a turn), and the PreRoll audio before the onset is handed out with
// SpeechStarted so the first syllables reach STT.
//
// Detectors and Segmenters belong to one audio stream and are not safe for
// concurrent use. Nothing here starts goroutines.
package vad
