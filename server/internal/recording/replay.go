package recording

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/parleyhq/parley/server/internal/session"
)

// maxLogLine bounds one line of an event log when reading it back.
const maxLogLine = 4 << 20

// Replay is a recording read back: both channels at 16 kHz and the
// user's turns, for replaying the user's side as input (the eval harness).
type Replay struct {
	// User and Agent are the left and right channels, 16 kHz mono PCM.
	User, Agent []int16
	// Turns are the user's turns in order.
	Turns []Turn
	// Ended is false when the log has no recording.ended line (the
	// server was killed): what is there is still usable.
	Ended bool
}

// Turn is one user turn as the server judged it, as offsets into the
// recording (the same timeline as User).
type Turn struct {
	// Start is when the server reported the user's speech started (the
	// first vad.speech_started of the turn, sent vad.min_speech after
	// the onset).
	Start time.Duration
	// End is when the server ended the turn (turn.ended).
	End time.Duration
	// Transcript is the turn's final transcripts, joined by spaces.
	Transcript string
}

// UserPCM returns the user channel between two offsets (clamped).
func (r *Replay) UserPCM(from, to time.Duration) []int16 {
	a, b := samplesAt(from, len(r.User)), samplesAt(to, len(r.User))
	if b < a {
		return nil
	}
	return r.User[a:b]
}

func samplesAt(d time.Duration, n int) int {
	return min(max(int(int64(d)*samplesPerSecond/int64(time.Second)), 0), n)
}

// Load reads session id's recording from dir.
func Load(dir string, id session.SessionID) (*Replay, error) {
	wavPath, logPath := Paths(dir, id)
	wf, err := os.Open(wavPath)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	defer wf.Close()
	lf, err := os.Open(logPath)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	defer lf.Close()
	return Read(wf, lf)
}

// Read reads a recording from its WAV and its event log. A recording cut
// off (the server was killed) reads as far as it goes: the WAV to its last
// whole sample frame (the header may undercount by up to a second), the
// log without a last line cut short, Ended false.
func Read(wav, events io.Reader) (*Replay, error) {
	r := &Replay{}
	if err := r.readWAV(wav); err != nil {
		return nil, err
	}
	if err := r.readLog(events); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Replay) readWAV(in io.Reader) error {
	b, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("recording: wav: %w", err)
	}
	// The writer's header, sizes aside, is always the same 44 bytes.
	if len(b) < headerBytes || string(b[:riffSizeAt]) != "RIFF" || !bytes.Equal(b[8:dataSizeAt], wavHeader(0)[8:dataSizeAt]) {
		return fmt.Errorf("%w: not a 16 kHz stereo PCM16 WAV", ErrNotRecording)
	}
	data := b[headerBytes:]
	data = data[:len(data)/frameBytes*frameBytes]
	n := len(data) / frameBytes
	r.User, r.Agent = make([]int16, n), make([]int16, n)
	for i := range n {
		r.User[i] = int16(binary.LittleEndian.Uint16(data[i*frameBytes:]))
		r.Agent[i] = int16(binary.LittleEndian.Uint16(data[i*frameBytes+2:]))
	}
	return nil
}

// logEvent is what Read looks at in a line.
type logEvent struct {
	Type  string  `json:"type"`
	MS    float64 `json:"ms"`
	Event *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"event"`
}

func (r *Replay) readLog(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, maxLogLine)
	var cur *Turn
	first := true
	// cut is a line that did not parse: only the last line may be one
	// (cut short when the server was killed mid-write).
	var cut error
	for sc.Scan() {
		if cut != nil {
			return cut
		}
		var l logEvent
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			cut = fmt.Errorf("%w: event log line: %w", ErrNotRecording, err)
			continue
		}
		if first {
			if l.Type != TypeStarted {
				return fmt.Errorf("%w: the event log does not start with %s", ErrNotRecording, TypeStarted)
			}
			first = false
			continue
		}
		if l.Type == TypeEnded {
			r.Ended = true
			continue
		}
		if l.Event == nil {
			continue
		}
		at := time.Duration(l.MS * float64(time.Millisecond))
		switch l.Event.Type {
		case "vad.speech_started":
			if cur == nil {
				cur = &Turn{Start: at}
			}
		case "transcript.final":
			// The final transcript may follow the end of its turn.
			t := cur
			if t == nil && len(r.Turns) > 0 {
				t = &r.Turns[len(r.Turns)-1]
			}
			if t != nil && l.Event.Text != "" {
				if t.Transcript != "" {
					t.Transcript += " "
				}
				t.Transcript += l.Event.Text
			}
		case "turn.ended":
			if cur != nil {
				cur.End = at
				r.Turns = append(r.Turns, *cur)
				cur = nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("recording: event log: %w", err)
	}
	if first {
		return fmt.Errorf("%w: empty event log", ErrNotRecording)
	}
	if cut != nil && r.Ended {
		return cut
	}
	return nil
}
