package recording

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/session"
)

// Timing of the writer.
const (
	// flushEvery is how often buffered data goes to the files and the WAV
	// header's sizes are rewritten: a recording cut off by SIGKILL is a
	// valid file missing at most this much.
	flushEvery = time.Second
	// holdBack is how far behind the newest timestamp audio is written:
	// agent audio is sent ahead of playback (session.output_lookahead)
	// and may still be cut by a barge-in; user audio arrives in chunks
	// placed to end at their arrival.
	holdBack = time.Second
	// maxPending bounds the audio kept in memory past what was written
	// (a client sending faster than real time).
	maxPending = 10 * time.Second
	// bufferBytes sizes each file's write buffer.
	bufferBytes = 64 << 10
)

// samplesPerSecond converts durations to positions on the recording.
const samplesPerSecond = int64(SampleRate)

type itemKind uint8

const (
	kindInput itemKind = iota
	kindOutput
	kindEvent
)

// item is one thing queued for the writer.
type item struct {
	kind  itemKind
	at    time.Time
	pcm   []int16
	frame []byte
	ev    session.Event
}

// recording is the session's side: a bounded queue in front of the
// writer. Full, it drops and counts.
type recording struct {
	q   chan item
	met *metrics

	// discarding: closed with discard; the writer skips what is queued.
	discarding atomic.Bool

	mu      sync.Mutex
	closed  bool
	dropped int64
	end     closing
}

// closing is what Close tells the writer.
type closing struct {
	at      time.Time
	reason  session.EndReason
	discard bool
}

var _ session.Recording = (*recording)(nil)

func (r *recording) put(it item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	select {
	case r.q <- it:
	default:
		r.dropped++
		r.met.dropped.Inc()
	}
}

// Input implements session.Recording.
func (r *recording) Input(at time.Time, pcm []int16) {
	r.put(item{kind: kindInput, at: at, pcm: append([]int16(nil), pcm...)})
}

// Output implements session.Recording.
func (r *recording) Output(at time.Time, frame []byte) {
	r.put(item{kind: kindOutput, at: at, frame: append([]byte(nil), frame...)})
}

// Event implements session.Recording.
func (r *recording) Event(at time.Time, ev session.Event) {
	r.put(item{kind: kindEvent, at: at, ev: ev})
}

// Close implements session.Recording: the writer finishes what is
// queued, then closes (or with discard deletes) the files. It does not wait.
func (r *recording) Close(at time.Time, reason session.EndReason, discard bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	r.discarding.Store(discard)
	r.end = closing{at: at, reason: reason, discard: discard}
	close(r.q)
}

// file is what the writer needs of an *os.File.
type file interface {
	io.Writer
	io.WriterAt
	Sync() error
	Close() error
	Stat() (os.FileInfo, error)
}

// createFile creates a recording file. A regular file already there (the
// same session recorded again after opting out) is unlinked first, so
// the new recording never shares a file with a writer still finishing.
func createFile(path string) (file, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		if err := os.Remove(path); err != nil {
			return nil, err //nolint:wrapcheck // wrapped by the caller.
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, filePerm)
	if err != nil {
		return nil, err //nolint:wrapcheck // wrapped by the caller.
	}
	return f, nil
}

// writer owns one recording's files; it runs on its own goroutine.
type writer struct {
	st       *Store
	id       session.SessionID
	start    time.Time
	wavPath  string
	logPath  string
	wav, log file
	// own are the files as opened: remove deletes a path only while it
	// is still this writer's file.
	own    [2]os.FileInfo
	wavBuf *bufio.Writer
	logBuf *bufio.Writer
	// data counts the sample bytes written to the WAV.
	data int64
	// base is the position (in samples) of left[0] and right[0]: what
	// lies before it is written.
	base        int64
	left, right []int16
	// userEnd and agentEnd are where each channel's audio ends so far;
	// newest the position of the newest timestamp seen.
	userEnd, agentEnd, newest int64
	// outRate is the agent audio's rate (AudioStarted); toRec resamples
	// it to 16 kHz.
	outRate int
	toRec   *audio.Resampler
	samples []int16
	out     []byte
	err     error
}

// header is the first line of the event log.
type header struct {
	Type       string   `json:"type"`
	SessionID  string   `json:"session_id"`
	Started    string   `json:"started"`
	SampleRate int      `json:"sample_rate"`
	Channels   []string `json:"channels"`
}

// footer is the last line of the event log of a recording closed cleanly.
type footer struct {
	Type      string  `json:"type"`
	At        string  `json:"t"`
	MS        float64 `json:"ms"`
	EndReason string  `json:"end_reason"`
	Dropped   int64   `json:"dropped"`
}

// The type of the log's first and last lines.
const (
	TypeStarted = "recording.started"
	TypeEnded   = "recording.ended"
)

func newWriter(st *Store, id session.SessionID, start time.Time) (*writer, error) {
	w := &writer{st: st, id: id, start: start, outRate: SampleRate}
	w.wavPath, w.logPath = st.Paths(id)
	var err error
	if w.wav, err = st.create(w.wavPath); err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	if w.log, err = st.create(w.logPath); err != nil {
		_ = w.wav.Close()
		_ = os.Remove(w.wavPath)
		return nil, fmt.Errorf("recording: %w", err)
	}
	for i, f := range []file{w.wav, w.log} {
		if w.own[i], err = f.Stat(); err != nil {
			w.closeFiles()
			return nil, fmt.Errorf("recording: %w", err)
		}
	}
	w.wavBuf, w.logBuf = bufio.NewWriterSize(w.wav, bufferBytes), bufio.NewWriterSize(w.log, bufferBytes)
	_, _ = w.wavBuf.Write(wavHeader(0))
	w.line(header{
		Type: TypeStarted, SessionID: string(id), Started: start.UTC().Format(time.RFC3339Nano),
		SampleRate: SampleRate, Channels: []string{"user", "agent"},
	})
	if w.flush(); w.err != nil {
		err := w.err
		w.closeFiles()
		w.remove()
		return nil, err
	}
	return w, nil
}

// run writes what arrives until the recording is closed.
func (w *writer) run(r *recording, onFail func(error)) {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	failed := false
	fail := func() {
		if failed || w.err == nil {
			return
		}
		failed = true
		w.st.met.errors.WithLabelValues(opWrite).Inc()
		w.st.log.Error("recording failed", "session_id", string(w.id), "error", w.err)
		w.closeFiles()
		if onFail != nil {
			onFail(w.err)
		}
	}
	for {
		select {
		case it, ok := <-r.q:
			if !ok {
				r.mu.Lock()
				end, dropped := r.end, r.dropped
				r.mu.Unlock()
				if !failed {
					w.finish(end, dropped)
				}
				return
			}
			if !failed && !r.discarding.Load() {
				w.handle(it)
				fail()
			}
		case <-t.C:
			if !failed && !r.discarding.Load() {
				w.flush()
				fail()
			}
		}
	}
}

// pos is the position of t on the recording, in samples.
func (w *writer) pos(t time.Time) int64 {
	return int64(t.Sub(w.start)) * samplesPerSecond / int64(time.Second)
}

func (w *writer) handle(it item) {
	at := w.pos(it.at)
	w.newest = max(w.newest, at)
	switch it.kind {
	case kindInput:
		// The chunk ends at its arrival (or after the user audio before
		// it: chunks coming faster than real time stay back to back).
		s := max(at-int64(len(it.pcm)), w.userEnd, w.base)
		w.place(&w.left, s, it.pcm)
		w.userEnd = s + int64(len(it.pcm))
	case kindOutput:
		pcm, err := audio.DecodePCM16LE(w.samples[:0], it.frame)
		if err != nil {
			return
		}
		w.samples = pcm
		if w.toRec != nil {
			pcm = w.toRec.Process(nil, pcm)
		}
		// Played back to back from when it is sent, as the session's
		// own estimate of what was heard assumes.
		s := max(at, w.agentEnd, w.base)
		w.place(&w.right, s, pcm)
		w.agentEnd = s + int64(len(pcm))
	case kindEvent:
		w.event(it.at, at, it.ev)
	}
	w.commit(w.newest - int64(holdBack)*samplesPerSecond/int64(time.Second))
	if limit := max(w.userEnd, w.agentEnd) - int64(maxPending)*samplesPerSecond/int64(time.Second); limit > w.base {
		w.commit(limit)
	}
}

// event logs ev and applies what it means for the agent channel.
func (w *writer) event(t time.Time, at int64, ev session.Event) {
	switch e := ev.(type) {
	case session.AudioStarted:
		w.setRate(e.SampleRate)
	case session.ResponseInterrupted:
		// The client stops playing now: what was sent ahead of playback
		// is not heard.
		if cut := max(at, w.base); w.agentEnd > cut {
			clear(w.right[cut-w.base : w.agentEnd-w.base])
			w.agentEnd = cut
		}
	}
	msg, ok := w.st.encode(ev)
	if !ok {
		return
	}
	w.line(logLine{At: t.UTC().Format(time.RFC3339Nano), MS: w.ms(t), Event: msg})
}

// logLine is one event of the log.
type logLine struct {
	At    string          `json:"t"`
	MS    float64         `json:"ms"`
	Event json.RawMessage `json:"event"`
}

// ms is t as milliseconds from the recording's start.
func (w *writer) ms(t time.Time) float64 {
	return float64(t.Sub(w.start)) / float64(time.Millisecond)
}

func (w *writer) setRate(rate int) {
	if rate == w.outRate {
		return
	}
	w.outRate, w.toRec = rate, nil
	if rate == SampleRate {
		return
	}
	f, err := w.st.filters.Get(rate, SampleRate)
	if err != nil {
		w.st.log.Warn("recording: agent audio rate not supported", "session_id", string(w.id), "rate", rate)
		return
	}
	w.toRec = audio.NewResamplerFilter(f)
}

// place writes pcm into ch from position s (s ≥ base).
func (w *writer) place(ch *[]int16, s int64, pcm []int16) {
	off := int(s - w.base)
	need := off + len(pcm)
	w.grow(need)
	copy((*ch)[off:need], pcm)
}

// grow makes both pending channels at least n samples long (silence).
func (w *writer) grow(n int) {
	for _, ch := range []*[]int16{&w.left, &w.right} {
		if len(*ch) < n {
			*ch = append(*ch, make([]int16, n-len(*ch))...)
		}
	}
}

// commit writes the audio before position upto to the WAV.
func (w *writer) commit(upto int64) {
	if upto <= w.base || w.err != nil {
		return
	}
	n := int(upto - w.base)
	w.grow(n)
	buf := w.out[:0]
	for i := range n {
		l, r := uint16(w.left[i]), uint16(w.right[i])
		buf = append(buf, byte(l), byte(l>>8), byte(r), byte(r>>8))
	}
	w.out = buf
	if _, err := w.wavBuf.Write(buf); err != nil {
		w.err = fmt.Errorf("recording: wav: %w", err)
		return
	}
	w.data += int64(len(buf))
	w.left, w.right = w.left[:copy(w.left, w.left[n:])], w.right[:copy(w.right, w.right[n:])]
	w.base = upto
}

// line appends one JSON line to the event log.
func (w *writer) line(v any) {
	if w.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		w.err = fmt.Errorf("recording: log line: %w", err)
		return
	}
	b = append(b, '\n')
	if _, err := w.logBuf.Write(b); err != nil {
		w.err = fmt.Errorf("recording: log: %w", err)
	}
}

// flush sends the buffers to the files and rewrites the WAV sizes.
func (w *writer) flush() {
	if w.err != nil {
		return
	}
	if err := errors.Join(w.wavBuf.Flush(), w.logBuf.Flush()); err != nil {
		w.err = fmt.Errorf("recording: flush: %w", err)
		return
	}
	if err := writeSizes(w.wav, uint32(min(w.data, maxDataBytes))); err != nil {
		w.err = err
	}
}

// maxDataBytes is the most a WAV's 32-bit sizes can describe.
const maxDataBytes = 1<<32 - 1 - headerBytes

// finish writes everything left, the footer, and closes the files (or
// deletes them).
func (w *writer) finish(end closing, dropped int64) {
	if end.discard {
		w.closeFiles()
		w.remove()
		return
	}
	w.newest = max(w.newest, w.pos(end.at))
	w.commit(max(w.newest, w.userEnd, w.agentEnd))
	w.line(footer{
		Type: TypeEnded, At: end.at.UTC().Format(time.RFC3339Nano), MS: w.ms(end.at),
		EndReason: end.reason.String(), Dropped: dropped,
	})
	w.flush()
	if w.err == nil {
		if err := errors.Join(w.wav.Sync(), w.log.Sync()); err != nil {
			w.err = fmt.Errorf("recording: sync: %w", err)
		}
	}
	if w.err != nil {
		w.st.met.errors.WithLabelValues(opClose).Inc()
		w.st.log.Error("recording not closed cleanly", "session_id", string(w.id), "error", w.err)
	}
	w.closeFiles()
}

func (w *writer) closeFiles() {
	for _, f := range []file{w.wav, w.log} {
		if f != nil {
			if err := f.Close(); err != nil && w.err == nil {
				w.err = fmt.Errorf("recording: close: %w", err)
			}
		}
	}
	w.wav, w.log = nil, nil
}

func (w *writer) remove() {
	for i, p := range []string{w.wavPath, w.logPath} {
		if fi, err := os.Stat(p); err != nil || w.own[i] == nil || !os.SameFile(fi, w.own[i]) {
			continue // gone, or a newer recording's
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.st.log.Warn("recording: could not delete", "session_id", string(w.id), "error", err)
		}
	}
}
