package main

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// goFliteChunk is called by the C bridge (on the synthesizing goroutine's
// thread) for each piece of audio flite produces. The samples are copied
// before returning: flite reuses its buffer.
//
//export goFliteChunk
func goFliteChunk(samples *C.short, n, rate, last C.int, handle C.uintptr_t) C.int {
	sink, ok := cgo.Handle(handle).Value().(sampleSink)
	if !ok {
		return streamStop
	}
	var pcm []int16
	if n > 0 && samples != nil {
		pcm = make([]int16, int(n))
		copy(pcm, unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n)))
	}
	if !sink(pcm, int(rate), last != 0) {
		return streamStop
	}
	return streamContinue
}
