package session

import (
	"context"
	"sync/atomic"
	"time"
)

// Recorder opens call recordings (WithRecorder; internal/recording writes
// them). The session only hands it what happens; all file I/O is the
// Recorder's.
type Recorder interface {
	// Open starts recording session id from start. onFail is called (from
	// any goroutine, at most once) when the recording fails afterwards;
	// the session then tells the client and goes on unrecorded.
	Open(id SessionID, start time.Time, onFail func(error)) (Recording, error)
}

// Recording receives one session's audio and events as they happen. Its
// methods are called from several goroutines, must not block (a bounded
// queue that drops and counts when full) and copy what they keep.
type Recording interface {
	// Input is user audio as received, at 16 kHz, at arrival time at.
	Input(at time.Time, pcm []int16)
	// Output is one frame of agent audio (PCM16LE at the rate of the last
	// AudioStarted event) as it is handed to the Sink.
	Output(at time.Time, frame []byte)
	// Event is an event the Sink accepted.
	Event(at time.Time, ev Event)
	// Close ends the recording; discard deletes what was written (the
	// client opted out).
	Close(at time.Time, reason EndReason, discard bool)
}

// WithRecorder records sessions with r: all of them unless they opt out
// (byDefault), or only those that opt in (session.update, a token claim).
// Without it no session is recorded and a client asking to be gets
// CodeRecordingDisabled.
func WithRecorder(r Recorder, byDefault bool) Option {
	return func(m *Manager) { m.recorder, m.recordByDefault = r, byDefault }
}

// recHolder boxes a Recording for an atomic pointer.
type recHolder struct{ r Recording }

// recordingSink passes everything to the transport's Sink and shows what
// was sent to the session's recording, if any.
type recordingSink struct {
	Sink
	now func() time.Time
	h   atomic.Pointer[recHolder]
}

// Event implements Sink: an event the Sink took is recorded.
func (r *recordingSink) Event(ev Event) error {
	err := r.Sink.Event(ev)
	if h := r.h.Load(); h != nil && err == nil {
		h.r.Event(r.now(), ev)
	}
	return err
}

// Audio implements Sink: the frame is recorded before the Sink owns it.
func (r *recordingSink) Audio(pcm []byte) error {
	if h := r.h.Load(); h != nil {
		h.r.Output(r.now(), pcm)
	}
	return r.Sink.Audio(pcm)
}

// wantsRecording is whether the session starts recorded: its token's
// claim, else the server's default.
func (s *Session) wantsRecording(p StartParams) bool {
	if p.Record != nil {
		return *p.Record
	}
	return s.m.recordByDefault
}

// setRecording starts or stops (discarding it) the session's recording;
// on the session goroutine (or before it runs). False: the recording
// could not start (logged; the caller tells the client).
func (s *Session) setRecording(on bool) bool {
	if s.recSink == nil || on == (s.rec != nil) {
		return true
	}
	if !on {
		s.stopRecording(EndNormal, true)
		s.log.Info("recording discarded: the client opted out")
		return true
	}
	var rec Recording
	rec, err := s.m.recorder.Open(s.id, s.m.clock.Now(), func(err error) {
		s.postAsync(func(context.Context) { s.recordingFailed(rec, err) })
	})
	if err != nil {
		s.log.Error("recording not started", "error", err)
		return false
	}
	s.rec = rec
	s.recSink.h.Store(&recHolder{r: rec})
	return true
}

// recordingFailed drops a recording that failed (the Recorder logged and
// counted why) and tells the client; the call goes on.
func (s *Session) recordingFailed(rec Recording, err error) {
	if s.rec == nil || s.rec != rec {
		return
	}
	s.stopRecording(EndNormal, false)
	s.log.Warn("recording failed; the call goes on", "error", err)
	s.sendError(CodeRecordingFailed, clientMessage(CodeRecordingFailed), nil)
}

// checkRecording refuses an Update's recording request the session
// cannot follow (sending the error) and reports whether it may go on.
func (s *Session) checkRecording(on bool) bool {
	switch {
	case on == (s.rec != nil):
		return true
	case s.recLocked:
		s.sendError(CodeInvalidField, "recording is set by the session's token", map[string]string{"field": "recording"})
		return false
	case on && s.recSink == nil:
		s.sendError(CodeRecordingDisabled, "recording is disabled on this server", map[string]string{"field": "recording"})
		return false
	}
	return true
}

// endRecording closes the recording when the session ends.
func (s *Session) endRecording() {
	if s.rec != nil {
		s.stopRecording(s.endReason, false)
	}
}

// stopRecording detaches the recording from the Sink and closes it.
func (s *Session) stopRecording(reason EndReason, discard bool) {
	s.recSink.h.Store(nil)
	s.rec.Close(s.m.clock.Now(), reason, discard)
	s.rec = nil
}
