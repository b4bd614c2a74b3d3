//go:build speexeval

package vad

// The Speex denoiser (Debian libspeexdsp-dev), built only with the
// speexeval tag for the denoise evaluation (make vad-denoise-eval): the
// measurement showed it does not belong in the server (server/BENCHMARKS.md).

/*
#cgo pkg-config: speexdsp
#include <speex/speex_preprocess.h>

static SpeexPreprocessState *parley_speex_new(int frame, int rate) {
	SpeexPreprocessState *st = speex_preprocess_state_init(frame, rate);
	int on = 1;
	speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DENOISE, &on);
	return st;
}
*/
import "C"

import (
	"unsafe"

	"github.com/parleyhq/parley/server/internal/audio"
)

// speexDenoiser is one stream's Speex noise suppressor (its default
// -15 dB), on 20 ms frames in place.
type speexDenoiser struct{ st *C.SpeexPreprocessState }

func newSpeexDenoiser() *speexDenoiser {
	return &speexDenoiser{st: C.parley_speex_new(audio.FrameSamples, audio.SampleRate)}
}

func (d *speexDenoiser) process(f []int16) {
	C.speex_preprocess_run(d.st, (*C.spx_int16_t)(unsafe.Pointer(&f[0])))
}

func (d *speexDenoiser) close() { C.speex_preprocess_state_destroy(d.st) }
