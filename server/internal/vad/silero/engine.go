package silero

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// Model geometry of Silero VAD v5 at 16 kHz.
const (
	// WindowSamples is the number of new samples per inference (32 ms).
	WindowSamples = 512
	// contextSamples of the previous window precede the new ones in the
	// model input.
	contextSamples = 64
	inputSamples   = contextSamples + WindowSamples
	// stateSize is one stream's recurrent state: [2, 1, 128].
	stateLayers = 2
	stateWidth  = 128
	stateSize   = stateLayers * stateWidth
	// pcmScale turns PCM16 into the model's [-1, 1) floats.
	pcmScale = 1.0 / 32768
)

// Batching.
const (
	// maxBatch bounds the windows of one inference; more wait for the next.
	maxBatch = 256
	// activeWindow: a stream that sent a window within this time counts as
	// active, so the batcher knows how many windows to expect (each stream
	// sends one per 32 ms).
	activeWindow = 3 * WindowSamples * time.Second / audio.SampleRate
)

// The model's input and output names.
func inputNames() []string  { return []string{"input", "state", "sr"} }
func outputNames() []string { return []string{"output", "stateN"} }

// Engine is one Silero VAD v5 model in ONNX Runtime, shared by every
// session's Stream. One goroutine runs the inferences: a window that
// arrives while others are pending joins their batch, and the batcher
// waits up to cfg.BatchWait for the windows of the other active streams
// before it runs, so 100 listening sessions cost far less than 100 single
// inferences. It never waits when every active stream's window is in.
// Safe for concurrent use; Close stops it.
type Engine struct {
	log       *slog.Logger
	batchWait time.Duration

	reqs chan *Stream
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// Owned by the batcher goroutine.
	sess    *ort.DynamicAdvancedSession
	sr      *ort.Scalar[int64]
	tensors map[int]*batchTensors
	seen    map[*Stream]time.Time
	batch   []*Stream

	// runErrs counts failed inferences (their windows read as silence).
	runErrs atomic.Int64
	// windows counts inferred windows and runs the inferences, for
	// benchmarks.
	windows, runs atomic.Int64
	// skipped counts windows of digital silence not inferred (Stream).
	skipped atomic.Int64
}

// batchTensors are the model inputs and outputs for one batch size.
type batchTensors struct {
	x, state, out, stateN *ort.Tensor[float32]
	// ins and outs are the Run arguments (sr is shared).
	ins, outs []ort.Value
}

// New loads ONNX Runtime from cfg.ONNXRuntimePath (once per process: the
// first Engine's library serves every later one, and stays loaded until
// the process ends) and the model from cfg.ModelPath, checks that the
// model is Silero VAD v5, and starts the batcher. Errors name the config
// key and the path and wrap ErrRuntime or ErrModel.
func New(cfg config.VAD, logger *slog.Logger) (*Engine, error) {
	if err := loadRuntime(cfg.ONNXRuntimePath); err != nil {
		return nil, err
	}
	model, err := os.ReadFile(cfg.ModelPath)
	if err != nil {
		return nil, fmt.Errorf("vad.model_path %s: %w: %w", cfg.ModelPath, ErrModel, err)
	}
	if err := checkModel(model); err != nil {
		return nil, fmt.Errorf("vad.model_path %s: %w: %w", cfg.ModelPath, ErrModel, err)
	}
	sess, err := newSession(model)
	if err != nil {
		return nil, fmt.Errorf("vad.model_path %s: %w: %w", cfg.ModelPath, ErrModel, err)
	}
	sr, err := ort.NewScalar[int64](audio.SampleRate)
	if err != nil {
		_ = sess.Destroy()
		return nil, fmt.Errorf("%w: sample rate tensor: %w", ErrRuntime, err)
	}
	e := &Engine{
		log: logger, batchWait: cfg.BatchWait,
		reqs: make(chan *Stream, maxBatch), stop: make(chan struct{}), done: make(chan struct{}),
		sess: sess, sr: sr, tensors: make(map[int]*batchTensors), seen: make(map[*Stream]time.Time),
	}
	go e.run()
	return e, nil
}

// loadRuntime checks the library and initialises ONNX Runtime with it
// unless the process already did.
func loadRuntime(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("vad.onnxruntime_path %s: %w: %w", path, ErrRuntime, err)
	}
	if err := checkLibrary(path); err != nil {
		return fmt.Errorf("vad.onnxruntime_path %s: %w: not loadable: %w", path, ErrRuntime, err)
	}
	if ort.IsInitialized() {
		return nil
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("vad.onnxruntime_path %s: %w: %w", path, ErrRuntime, err)
	}
	return nil
}

// checkModel rejects a model whose inputs and outputs are not those of
// Silero VAD v5 (e.g. the legacy v4 model with h/c state).
func checkModel(model []byte) error {
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return err
	}
	names := func(infos []ort.InputOutputInfo) []string {
		var n []string
		for _, i := range infos {
			n = append(n, i.Name)
		}
		return n
	}
	if !slices.Equal(names(ins), inputNames()) || !slices.Equal(names(outs), outputNames()) {
		return fmt.Errorf("inputs %v and outputs %v are not Silero VAD v5's %v and %v", names(ins), names(outs), inputNames(), outputNames())
	}
	if d := ins[1].Dimensions; len(d) != 3 || d[0] != stateLayers || d[2] != stateWidth {
		return fmt.Errorf("state shape %v, want [%d -1 %d]", d, stateLayers, stateWidth)
	}
	return nil
}

// newSession creates the inference session: one thread, sequential, since
// the batcher is the parallelism.
func newSession(model []byte) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer func() { _ = opts.Destroy() }()
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		return nil, err
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	if err := opts.SetExecutionMode(ort.ExecutionModeSequential); err != nil {
		return nil, err
	}
	return ort.NewDynamicAdvancedSessionWithONNXData(model, inputNames(), outputNames(), opts)
}

// NewStream returns a new stream with its own model state, inferred by
// the engine.
func (e *Engine) NewStream() *Stream {
	// The context before the first window is zeros.
	return &Stream{e: e, reply: make(chan struct{}, 1), zeros: contextSamples}
}

// Close stops the batcher (a window in flight is answered first, later
// ones read as silence) and frees the session. Safe more than once.
func (e *Engine) Close() error {
	var err error
	e.once.Do(func() {
		close(e.stop)
		<-e.done
		var errs []error
		for _, t := range e.tensors {
			errs = append(errs, t.destroy())
		}
		errs = append(errs, e.sr.Destroy(), e.sess.Destroy())
		err = errors.Join(errs...)
	})
	return err
}

// infer sends d's window to the batcher and waits for its probability.
// It reports false when the engine is closed.
func (e *Engine) infer(d *Stream) bool {
	select {
	case e.reqs <- d:
	case <-e.done:
		return false
	}
	select {
	case <-d.reply:
		return true
	case <-e.done:
		// The batcher may have answered before it stopped.
		select {
		case <-d.reply:
			return true
		default:
			return false
		}
	}
}

// run is the batcher goroutine.
func (e *Engine) run() {
	defer close(e.done)
	var timer *time.Timer
	for {
		var first *Stream
		select {
		case first = <-e.reqs:
		case <-e.stop:
			return
		}
		now := time.Now()
		e.batch = append(e.batch[:0], first)
		want := e.expected(now)
		if want > 1 && e.batchWait > 0 {
			if timer == nil {
				timer = time.NewTimer(e.batchWait)
			} else {
				timer.Reset(e.batchWait)
			}
			e.collect(timer, want)
			timer.Stop()
		}
		// Whatever else is already queued joins too.
	drain:
		for len(e.batch) < maxBatch {
			select {
			case d := <-e.reqs:
				e.batch = append(e.batch, d)
			default:
				break drain
			}
		}
		for _, d := range e.batch {
			e.seen[d] = now
		}
		e.infer1(e.batch)
		for _, d := range e.batch {
			d.reply <- struct{}{}
		}
	}
}

// collect adds windows to the batch until want are in, the timer fires or
// the batch is full.
func (e *Engine) collect(timer *time.Timer, want int) {
	for len(e.batch) < want && len(e.batch) < maxBatch {
		select {
		case d := <-e.reqs:
			e.batch = append(e.batch, d)
		case <-timer.C:
			return
		case <-e.stop:
			return
		}
	}
}

// expected is how many streams were active within activeWindow of now
// (at least one); older ones are forgotten.
func (e *Engine) expected(now time.Time) int {
	for d, t := range e.seen {
		if now.Sub(t) > activeWindow {
			delete(e.seen, d)
		}
	}
	return max(len(e.seen), 1)
}

// infer1 runs one batch and writes each detector's probability and state.
func (e *Engine) infer1(batch []*Stream) {
	n := len(batch)
	t, err := e.tensorsFor(n)
	if err == nil {
		x, st := t.x.GetData(), t.state.GetData()
		for i, d := range batch {
			copy(x[i*inputSamples:], d.window[:])
			for l := range stateLayers {
				copy(st[(l*n+i)*stateWidth:(l*n+i+1)*stateWidth], d.state[l*stateWidth:(l+1)*stateWidth])
			}
		}
		err = e.sess.Run(t.ins, t.outs)
	}
	e.runs.Add(1)
	e.windows.Add(int64(n))
	if err != nil {
		if e.runErrs.Add(1) == 1 {
			e.log.Error("silero inference failed; its windows read as silence", "error", err)
		}
		for _, d := range batch {
			d.prob = 0
		}
		return
	}
	out, stN := t.out.GetData(), t.stateN.GetData()
	for i, d := range batch {
		d.prob = out[i]
		for l := range stateLayers {
			copy(d.state[l*stateWidth:(l+1)*stateWidth], stN[(l*n+i)*stateWidth:(l*n+i+1)*stateWidth])
		}
	}
}

// tensorsFor returns the tensors of batch size n, made on first use.
func (e *Engine) tensorsFor(n int) (*batchTensors, error) {
	if t := e.tensors[n]; t != nil {
		return t, nil
	}
	b := int64(n)
	t := &batchTensors{}
	var errs [4]error
	t.x, errs[0] = ort.NewEmptyTensor[float32](ort.NewShape(b, inputSamples))
	t.state, errs[1] = ort.NewEmptyTensor[float32](ort.NewShape(stateLayers, b, stateWidth))
	t.out, errs[2] = ort.NewEmptyTensor[float32](ort.NewShape(b, 1))
	t.stateN, errs[3] = ort.NewEmptyTensor[float32](ort.NewShape(stateLayers, b, stateWidth))
	if err := errors.Join(errs[:]...); err != nil {
		_ = t.destroy()
		return nil, fmt.Errorf("%w: tensors for a batch of %d: %w", ErrRuntime, n, err)
	}
	t.ins, t.outs = []ort.Value{t.x, t.state, e.sr}, []ort.Value{t.out, t.stateN}
	e.tensors[n] = t
	return t, nil
}

func (t *batchTensors) destroy() error {
	var errs []error
	for _, x := range []*ort.Tensor[float32]{t.x, t.state, t.out, t.stateN} {
		if x != nil {
			errs = append(errs, x.Destroy())
		}
	}
	return errors.Join(errs...)
}
