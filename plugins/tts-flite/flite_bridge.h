/* flite_bridge.h declares the small C layer between Go and libflite. */
#ifndef PARLEY_FLITE_BRIDGE_H
#define PARLEY_FLITE_BRIDGE_H

#include <stdint.h>
#include <flite/flite.h>

/* Voice ids known to the bridge; keep in step with voices.go. */
enum {
	PARLEY_VOICE_SLT = 0,
	PARLEY_VOICE_KAL16 = 1,
	PARLEY_VOICE_AWB = 2,
	PARLEY_VOICE_RMS = 3,
	PARLEY_VOICE_KAL = 4,
	PARLEY_VOICE_COUNT = 5
};

/* parley_voice returns the voice with the given id, registering it (and
 * initialising flite) the first time. Safe from any thread. NULL if the id
 * is unknown or registration failed. */
cst_voice *parley_voice(int id);

/* parley_synth synthesizes text with voice v. Audio is delivered as it is
 * produced to the exported Go function goFliteChunk with the given handle;
 * min_buf is the smallest number of samples per delivery. Returns 0 when
 * the whole text was spoken, 1 when the callback stopped synthesis and -1
 * when flite failed. */
int parley_synth(cst_voice *v, const char *text, float duration_stretch, int min_buf, uintptr_t handle);

#endif
