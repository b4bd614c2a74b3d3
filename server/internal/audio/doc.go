// Package audio holds Parley's internal audio format — 20 ms frames of
// 16 kHz mono PCM16 — and the conversions transports need at the edge:
// little-endian PCM16 encoding, framing of arbitrary-sized sample streams,
// band-limited sample-rate conversion, levels and WAV I/O.
//
// Nothing in this package starts goroutines or keeps package-level state;
// every stateful type (Resampler, Framer) belongs to one stream and is not
// safe for concurrent use.
package audio
