package main

/*
#cgo LDFLAGS: -lflite_cmu_us_slt -lflite_cmu_us_kal16 -lflite_cmu_us_awb -lflite_cmu_us_rms -lflite_cmu_us_kal -lflite_usenglish -lflite_cmulex -lflite -lm -lpthread
#include <stdlib.h>
#include "flite_bridge.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// Flite's streaming callback return values (CST_AUDIO_STREAM_CONT/STOP).
const (
	streamContinue = 0
	streamStop     = -1
)

// errSynthStopped says the sample sink asked flite to stop.
var errSynthStopped = errors.New("flite: synthesis stopped")

// errFlite says libflite failed to synthesize an utterance.
var errFlite = errors.New("flite: synthesis failed")

// sampleSink receives synthesized audio as flite produces it. It returns
// false to abort synthesis (cancellation, barge-in).
type sampleSink func(samples []int16, rate int, last bool) bool

// fliteVoice is a registered flite voice, shared by all streams.
type fliteVoice struct {
	ptr *C.cst_voice
}

// loadVoice returns the flite voice with the given bridge id, registering it
// on first use (once per process, in the C bridge).
func loadVoice(id int) (fliteVoice, error) {
	v := C.parley_voice(C.int(id))
	if v == nil {
		return fliteVoice{}, fmt.Errorf("flite: voice %d could not be registered", id)
	}
	return fliteVoice{ptr: v}, nil
}

// synthesize speaks text with voice v, stretching durations by stretch
// (1/speed) and handing audio to sink in pieces of at least minSamples.
// It returns errSynthStopped when sink returned false.
func synthesize(v fliteVoice, text string, stretch float32, minSamples int, sink sampleSink) error {
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	h := cgo.NewHandle(sink)
	defer h.Delete()
	switch rc := C.parley_synth(v.ptr, ctext, C.float(stretch), C.int(minSamples), C.uintptr_t(h)); rc {
	case 0:
		return nil
	case 1:
		return errSynthStopped
	default:
		return fmt.Errorf("%w (code %d)", errFlite, int(rc))
	}
}
