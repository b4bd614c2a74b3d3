// Package recording writes call recordings: per session one stereo 16-bit
// WAV at 16 kHz (left: the user's audio as received, right: the agent's
// audio as sent, both placed on the wall clock, gaps filled with silence)
// and a JSON-lines log of every event the client was sent, per-turn
// metrics included. It implements session.Recorder; the session itself does
// no file I/O. Writing is streaming, from one goroutine per recording
// behind a bounded queue: a slow disk drops recording data (counted), never
// the call; a failing disk fails the recording, never the call. Replay
// reads a recording back (the eval harness).
package recording

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
)

// File name suffixes.
const (
	// WAVExt and LogExt end a recording's two files.
	WAVExt = ".wav"
	LogExt = ".jsonl"
)

// dirPerm and filePerm keep recordings to the server's user: they hold
// what people said.
const (
	dirPerm  = 0o750
	filePerm = 0o640
)

// Sweep intervals: a tenth of the retention, within these bounds.
const (
	minSweepInterval = time.Minute
	maxSweepInterval = time.Hour
	sweepFraction    = 10
)

// Encoder turns an event into the JSON the log keeps (app passes
// parleyv1.Encode); ok false leaves the event out.
type Encoder func(session.Event) (msg []byte, ok bool)

// safeID is what a session id must look like to name a file.
var safeID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// Store writes recordings into one directory and sweeps old ones.
type Store struct {
	cfg    config.Recording
	encode Encoder
	log    *slog.Logger
	met    *metrics
	now    func() time.Time
	wg     sync.WaitGroup
	// create opens a recording file (tests inject failing disks).
	create func(path string) (file, error)
	// filters shares resampling filters between recordings.
	filters audio.FilterCache
}

var _ session.Recorder = (*Store)(nil)

// New makes cfg.Dir (mode 0750) and returns the store writing into it.
// reg may be nil (no metrics export).
func New(cfg config.Recording, encode Encoder, reg prometheus.Registerer, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if encode == nil {
		return nil, errors.New("recording: an event encoder is required")
	}
	if err := os.MkdirAll(cfg.Dir, dirPerm); err != nil {
		return nil, fmt.Errorf("recording: dir: %w", err)
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, encode: encode, log: logger, met: met, now: time.Now, create: createFile}, nil
}

// Paths returns the WAV and event log files of session id.
func (st *Store) Paths(id session.SessionID) (wav, events string) {
	return Paths(st.cfg.Dir, id)
}

// Paths returns the WAV and event log files of session id in dir.
func Paths(dir string, id session.SessionID) (wav, events string) {
	base := filepath.Join(dir, string(id))
	return base + WAVExt, base + LogExt
}

// Open implements session.Recorder: it creates the session's two files
// and starts their writer.
func (st *Store) Open(id session.SessionID, start time.Time, onFail func(error)) (session.Recording, error) {
	if !safeID.MatchString(string(id)) {
		st.met.errors.WithLabelValues(opOpen).Inc()
		return nil, fmt.Errorf("%w: %q", ErrSessionID, id)
	}
	w, err := newWriter(st, id, start)
	if err != nil {
		st.met.errors.WithLabelValues(opOpen).Inc()
		st.log.Error("recording not started", "session_id", string(id), "error", err)
		return nil, err
	}
	r := &recording{q: make(chan item, max(st.cfg.QueueFrames, 1)), met: st.met}
	st.met.active.Inc()
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		defer st.met.active.Dec()
		w.run(r, onFail)
	}()
	return r, nil
}

// Wait blocks until every recording's writer has finished (after the
// sessions ended: server shutdown) or ctx ends.
func (st *Store) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { st.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("recording: writers still busy: %w", ctx.Err())
	}
}

// Run sweeps recordings older than the retention at once and then
// periodically until ctx ends (nothing with retention 0).
func (st *Store) Run(ctx context.Context) error {
	if st.cfg.Retention <= 0 {
		return nil
	}
	every := min(max(st.cfg.Retention/sweepFraction, minSweepInterval), maxSweepInterval)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := st.Sweep(st.now()); err != nil {
			st.log.Warn("recording sweep failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep deletes the recording files last written before now minus the
// retention and returns how many it deleted.
func (st *Store) Sweep(now time.Time) (int, error) {
	if st.cfg.Retention <= 0 {
		return 0, nil
	}
	entries, err := os.ReadDir(st.cfg.Dir)
	if err != nil {
		return 0, fmt.Errorf("recording: sweep: %w", err)
	}
	cutoff := now.Add(-st.cfg.Retention)
	n := 0
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, WAVExt) && !strings.HasSuffix(name, LogExt) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(st.cfg.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	st.met.swept.Add(float64(n))
	if len(errs) > 0 {
		return n, fmt.Errorf("recording: sweep: %w", errors.Join(errs...))
	}
	return n, nil
}
