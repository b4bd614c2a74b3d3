package silero

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// parley_ort_check opens path, looks up OrtGetApiBase and closes it again.
// It returns NULL when the library is a loadable ONNX Runtime, otherwise
// the loader's message (static storage, copy it at once).
static const char *parley_ort_check(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		return e ? e : "dlopen failed";
	}
	void *sym = dlsym(h, "OrtGetApiBase");
	dlclose(h);
	return sym ? NULL : "no OrtGetApiBase symbol: not an ONNX Runtime library";
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// checkLibrary reports whether path is a loadable ONNX Runtime library. It
// opens and closes the library on its own, so a bad path is caught even
// when another Engine already loaded ONNX Runtime into the process.
func checkLibrary(path string) error {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	if msg := C.parley_ort_check(cs); msg != nil {
		return errors.New(C.GoString(msg))
	}
	return nil
}
