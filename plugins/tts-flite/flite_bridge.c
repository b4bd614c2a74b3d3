/* flite_bridge.c is the C side of the flite binding: voice registration
 * once per process and per-utterance streaming synthesis. */
#include <pthread.h>
#include "flite_bridge.h"

cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_kal16(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);

/* Implemented in Go (callback.go). */
extern int goFliteChunk(short *samples, int n, int rate, int last, uintptr_t handle);

static pthread_once_t parley_init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t parley_voice_mu = PTHREAD_MUTEX_INITIALIZER;
static cst_voice *parley_voices[PARLEY_VOICE_COUNT];

static void parley_init(void) { flite_init(); }

cst_voice *parley_voice(int id) {
	cst_voice *v;
	if (id < 0 || id >= PARLEY_VOICE_COUNT) {
		return NULL;
	}
	pthread_once(&parley_init_once, parley_init);
	pthread_mutex_lock(&parley_voice_mu);
	if (parley_voices[id] == NULL) {
		switch (id) {
		case PARLEY_VOICE_SLT: parley_voices[id] = register_cmu_us_slt(NULL); break;
		case PARLEY_VOICE_KAL16: parley_voices[id] = register_cmu_us_kal16(NULL); break;
		case PARLEY_VOICE_AWB: parley_voices[id] = register_cmu_us_awb(NULL); break;
		case PARLEY_VOICE_RMS: parley_voices[id] = register_cmu_us_rms(NULL); break;
		case PARLEY_VOICE_KAL: parley_voices[id] = register_cmu_us_kal(NULL); break;
		}
	}
	v = parley_voices[id];
	pthread_mutex_unlock(&parley_voice_mu);
	return v;
}

/* parley_job is the per-utterance state the streaming callback sees. */
typedef struct {
	uintptr_t handle;
	int delivered;
	int stopped;
} parley_job;

static int parley_asc(const cst_wave *w, int start, int size, int last, cst_audio_streaming_info *asi) {
	parley_job *job = (parley_job *)asi->userdata;
	int rc;
	job->delivered = 1;
	rc = goFliteChunk(w->samples + start, size, w->sample_rate, last, job->handle);
	if (rc == CST_AUDIO_STREAM_STOP) {
		job->stopped = 1;
	}
	return rc;
}

int parley_synth(cst_voice *v, const char *text, float duration_stretch, int min_buf, uintptr_t handle) {
	parley_job job = {handle, 0, 0};
	cst_utterance *u;
	cst_audio_streaming_info *asi;
	cst_wave *w;
	int rc = 0;

	u = new_utterance();
	asi = new_audio_streaming_info();
	asi->min_buffsize = min_buf;
	asi->asc = parley_asc;
	asi->userdata = &job;
	/* The utterance owns asi from here on and frees it with itself. The
	 * feature names are string literals: flite keeps the key pointers. */
	feat_set(u->features, "streaming_info", audio_streaming_info_val(asi));
	feat_set_float(u->features, "duration_stretch", duration_stretch);
	utt_set_input_text(u, text);
	u = flite_do_synth(u, v, utt_synth);
	if (u == NULL) {
		return -1;
	}
	if (job.stopped) {
		rc = 1;
	} else if (!job.delivered) {
		/* Voices without streaming support: hand over the whole wave. */
		w = utt_wave(u);
		if (w != NULL && w->num_samples > 0) {
			if (goFliteChunk(w->samples, w->num_samples, w->sample_rate, 1, handle) == CST_AUDIO_STREAM_STOP) {
				rc = 1;
			}
		}
	}
	delete_utterance(u);
	return rc;
}
