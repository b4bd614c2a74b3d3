package sphinx

/*
#cgo pkg-config: pocketsphinx
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>

// parley_config parses an argv-style option list into a pocketsphinx
// configuration. It is the non-variadic equivalent of cmd_ln_init, which cgo
// cannot call. Unknown options make it return NULL (strict mode).
static cmd_ln_t *parley_config(int argc, char **argv) {
	return cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
}

// parley_frate returns the decoder's feature frame rate in frames per second.
static long parley_frate(cmd_ln_t *config) {
	return cmd_ln_int32_r(config, "-frate");
}

// parley_ln_prob returns the best path's posterior probability of the
// finished utterance as a natural logarithm (0 when unknown).
static double parley_ln_prob(ps_decoder_t *ps) {
	int32 prob = ps_get_prob(ps);
	return logmath_log_to_ln(ps_get_logmath(ps), prob);
}

// parley_cmn returns the decoder's cepstral mean normalisation state, or
// NULL when the decoder has none (-cmn none). Fed block by block, as a
// stream is, sphinxbase runs every CMN type as live CMN on this state.
static cmn_t *parley_cmn(ps_decoder_t *ps) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn == CMN_NONE) {
		return NULL;
	}
	return f->cmn_struct;
}

static int parley_cmn_len(ps_decoder_t *ps) {
	cmn_t *c = parley_cmn(ps);
	return c == NULL ? 0 : c->veclen;
}

// parley_cmn_get copies the live mean into vec and returns how many frames
// it stands for.
static int parley_cmn_get(ps_decoder_t *ps, mfcc_t *vec) {
	cmn_t *c = parley_cmn(ps);
	memcpy(vec, c->cmn_mean, c->veclen * sizeof(mfcc_t));
	return c->nframe;
}

// parley_cmn_put makes vec the live mean, weighted as nframe frames heard
// (cmn_live_set always weighs it as 500).
static void parley_cmn_put(ps_decoder_t *ps, const mfcc_t *vec, int nframe) {
	cmn_t *c = parley_cmn(ps);
	for (int i = 0; i < c->veclen; i++) {
		c->cmn_mean[i] = vec[i];
		c->sum[i] = vec[i] * nframe;
	}
	c->nframe = nframe;
}

// parley_quiet turns sphinxbase's process-global logging off once, when
// the program is loaded and before any decoder exists: setting it per
// decoder with -logfn races when decoders start concurrently.
__attribute__((constructor)) static void parley_quiet(void) {
	err_set_logfp(NULL);
}
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unsafe"
)

// errOptions reports that pocketsphinx refused the command-line options.
var errOptions = errors.New("pocketsphinx: options rejected")

// errModels reports that pocketsphinx could not load the model files.
var errModels = errors.New("pocketsphinx: models could not be loaded")

// errDecode reports that pocketsphinx failed on an audio or utterance call.
var errDecode = errors.New("pocketsphinx: decoding failed")

// defaultFrameRate is pocketsphinx's feature frame rate unless -frate says
// otherwise, in frames per second.
const defaultFrameRate = 100

// word is one recognised word with its position inside the utterance.
type word struct {
	text       string
	start, end time.Duration
}

// result is the outcome of one finished utterance.
type result struct {
	text string
	// lnProb is the natural log of the best path's posterior probability.
	lnProb float64
	// words holds the non-filler words with timings relative to the
	// utterance start.
	words []word
}

// decoder is one warm pocketsphinx decoder. It is not safe for concurrent
// use; the pool hands it to one stream at a time.
type decoder struct {
	ps        *C.ps_decoder_t
	config    *C.cmd_ln_t
	argv      []*C.char
	frameRate int
	inUtt     bool
	samples   []int16
}

// newDecoder loads the models named by args (pocketsphinx flags and values,
// e.g. "-hmm", "/path"). It costs about half a second and 100 MB.
func newDecoder(args []string) (*decoder, error) {
	d := &decoder{argv: make([]*C.char, len(args))}
	for i, a := range args {
		d.argv[i] = C.CString(a)
	}
	var argvPtr **C.char
	if len(d.argv) > 0 {
		// The slice's backing array holds C pointers only, so it may be
		// passed to C for the duration of the call.
		argvPtr = (**C.char)(unsafe.Pointer(&d.argv[0]))
	}
	d.config = C.parley_config(C.int(len(args)), argvPtr)
	if d.config == nil {
		d.free()
		return nil, fmt.Errorf("%w: %s", errOptions, strings.Join(args, " "))
	}
	d.frameRate = int(C.parley_frate(d.config))
	if d.frameRate <= 0 {
		d.frameRate = defaultFrameRate
	}
	d.ps = C.ps_init(d.config)
	if d.ps == nil {
		d.free()
		return nil, fmt.Errorf("%w: %s", errModels, strings.Join(args, " "))
	}
	return d, nil
}

// cmnState is live cepstral mean normalisation: the mean subtracted from
// every frame and how many frames of audio it stands for. sphinxbase
// updates the mean at the end of each utterance (and every few seconds
// within a long one) from what it heard, so it adapts to the voice and the
// line.
type cmnState struct {
	mean   []float32
	frames int
}

// cmnWindow caps the frames a mean carried over stands for: sphinxbase
// keeps about that many (CMN_WIN) after it shifts its window.
const cmnWindow = 500

// cmn returns the decoder's live CMN state; a zero state when the decoder
// has none (-cmn none).
func (d *decoder) cmn() cmnState {
	n := int(C.parley_cmn_len(d.ps))
	if n == 0 {
		return cmnState{}
	}
	mean := make([]C.mfcc_t, n)
	st := cmnState{mean: make([]float32, n)}
	st.frames = min(int(C.parley_cmn_get(d.ps, &mean[0])), cmnWindow)
	for i, v := range mean {
		st.mean[i] = float32(v)
	}
	return st
}

// setCMN makes st the decoder's live CMN state. The decoder must have no
// open utterance.
func (d *decoder) setCMN(st cmnState) {
	if len(st.mean) == 0 || len(st.mean) != int(C.parley_cmn_len(d.ps)) {
		return
	}
	mean := make([]C.mfcc_t, len(st.mean))
	for i, v := range st.mean {
		mean[i] = C.mfcc_t(v)
	}
	C.parley_cmn_put(d.ps, &mean[0], C.int(st.frames))
}

// free releases the decoder's C memory. It is safe to call once on a
// partially built decoder.
func (d *decoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
	if d.config != nil {
		C.cmd_ln_free_r(d.config)
		d.config = nil
	}
	for _, p := range d.argv {
		C.free(unsafe.Pointer(p))
	}
	d.argv = nil
}

// trimHeap gives memory freed by pocketsphinx back to the operating system;
// without it the process keeps the RSS of every freed decoder.
func trimHeap() { C.malloc_trim(0) }

// process feeds PCM16LE bytes (an even number) to the current utterance,
// starting one if needed.
func (d *decoder) process(pcm []byte) error {
	if !d.inUtt {
		if C.ps_start_utt(d.ps) < 0 {
			return fmt.Errorf("%w: ps_start_utt", errDecode)
		}
		d.inUtt = true
	}
	n := len(pcm) / bytesPerSample
	if n == 0 {
		return nil
	}
	if cap(d.samples) < n {
		d.samples = make([]int16, n)
	}
	s := d.samples[:n]
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(pcm[bytesPerSample*i:]))
	}
	if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&s[0])), C.size_t(n), C.FALSE, C.FALSE) < 0 {
		return fmt.Errorf("%w: ps_process_raw", errDecode)
	}
	return nil
}

// hypothesis returns the current best hypothesis of the open utterance.
func (d *decoder) hypothesis() string {
	if !d.inUtt {
		return ""
	}
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return C.GoString(h)
}

// endUtterance finishes the open utterance and returns its result. With no
// open utterance it returns an empty result.
func (d *decoder) endUtterance() (result, error) {
	if !d.inUtt {
		return result{}, nil
	}
	d.inUtt = false
	if C.ps_end_utt(d.ps) < 0 {
		return result{}, fmt.Errorf("%w: ps_end_utt", errDecode)
	}
	var score C.int32
	var r result
	if h := C.ps_get_hyp(d.ps, &score); h != nil {
		r.text = C.GoString(h)
	}
	if r.text == "" {
		return r, nil
	}
	r.lnProb = float64(C.parley_ln_prob(d.ps))
	frame := time.Second / time.Duration(d.frameRate)
	// Segment frame numbers keep counting across utterances of one decoder;
	// the first segment (the <s> marker) starts at the utterance's first
	// frame, so every offset is taken relative to it.
	base, first := C.int(0), true
	for seg := C.ps_seg_iter(d.ps); seg != nil; seg = C.ps_seg_next(seg) {
		var sf, ef C.int
		C.ps_seg_frames(seg, &sf, &ef)
		if first {
			base, first = sf, false
		}
		w := C.GoString(C.ps_seg_word(seg))
		if isFiller(w) {
			continue
		}
		r.words = append(r.words, word{
			text:  w,
			start: time.Duration(sf-base) * frame,
			end:   time.Duration(ef+1-base) * frame,
		})
	}
	return r, nil
}

// abandon ends an open utterance whose result nobody wants, so the decoder
// can be reused.
func (d *decoder) abandon() error {
	if !d.inUtt {
		return nil
	}
	d.inUtt = false
	if C.ps_end_utt(d.ps) < 0 {
		return fmt.Errorf("%w: ps_end_utt", errDecode)
	}
	return nil
}

// isFiller reports whether a segment word is silence, noise or a sentence
// marker rather than speech.
func isFiller(w string) bool {
	return w == "" || strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || strings.HasPrefix(w, "+")
}

// confidence maps a best-path log posterior to 0..1 as the geometric mean of
// the per-word posteriors: exp(lnProb / words). The whole-utterance
// posterior shrinks with every word, so normalising by the word count keeps
// long and short utterances comparable.
func confidence(lnProb float64, words int) float32 {
	if words <= 0 {
		return 0
	}
	c := math.Exp(lnProb / float64(words))
	switch {
	case math.IsNaN(c) || c < 0:
		return 0
	case c > 1:
		return 1
	default:
		return float32(c)
	}
}
