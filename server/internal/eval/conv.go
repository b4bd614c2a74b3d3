package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

// readLimit bounds one server message.
const readLimit = 1 << 20

// wireEvent is a parley.v1 server event: the fields the eval reads.
type wireEvent struct {
	Type         string          `json:"type"`
	ResponseID   string          `json:"response_id"`
	Text         string          `json:"text"`
	TextPlayed   string          `json:"text_played"`
	Status       string          `json:"status"`
	Reason       string          `json:"reason"`
	Resumable    bool            `json:"resumable"`
	CallID       string          `json:"call_id"`
	Name         string          `json:"name"`
	Arguments    json.RawMessage `json:"arguments"`
	Location     string          `json:"location"`
	Code         string          `json:"code"`
	Message      string          `json:"message"`
	VoiceToVoice *float64        `json:"voice_to_voice_ms"`
}

// incoming is one message read from the server, or the read error.
type incoming struct {
	ev         wireEvent
	audioBytes int
	at         time.Time
	err        error
}

// spoke says when the last sample of a turn's speech was sent.
type spoke struct {
	turn int
	at   time.Time
}

// turnState is a turn's result while the conversation runs.
type turnState struct {
	TurnResult
	turn         *Turn
	started      bool
	startedAt    time.Time
	speechEndAt  time.Time
	firstAudioAt time.Time
	responses    int
	terminal     bool // the last response ended (done or interrupted for good)
	complete     bool // ... and its metrics came
	audio        time.Duration
	replies      []string
}

// conv is one scenario's conversation over /ws/voice.
type conv struct {
	sc      *Scenario
	conn    *websocket.Conn
	in      chan incoming
	spoke   chan spoke
	mic     *mic
	turns   []*turnState
	cur     int            // the latest started turn, -1 before the first
	owner   map[string]int // response id → turn index
	audioTo int            // the turn the audio frames now belong to
	closed  error          // the connection's end, once read
}

func dial(ctx context.Context, url, token string, timeout time.Duration) (*websocket.Conn, error) {
	opts := &websocket.DialOptions{Subprotocols: []string{parleyv1.Version}}
	if token != "" {
		opts.HTTPHeader = http.Header{"Authorization": []string{"Bearer " + token}}
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, resp, err := websocket.Dial(hctx, url, opts)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("connect: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	conn.SetReadLimit(readLimit)
	return conn, nil
}

// open sends the session.update and waits for session.updated; then the
// microphone and the reader run until ctx ends.
func (c *conv) open(ctx context.Context, timeout time.Duration) error {
	update := map[string]any{
		"type":               parleyv1.TypeSessionUpdate,
		"input_sample_rate":  audio.SampleRate,
		"output_sample_rate": audio.SampleRate,
	}
	s := c.sc.Session
	for k, v := range map[string]string{"system_prompt": s.SystemPrompt, "voice": s.Voice, "language": s.Language} {
		if v != "" {
			update[k] = v
		}
	}
	if len(c.sc.Tools) > 0 {
		update["tools"] = c.sc.Tools
	}
	if err := c.send(ctx, update); err != nil {
		return err
	}
	go c.read(ctx)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case m := <-c.in:
			if m.err != nil {
				return fmt.Errorf("before session.updated: %w", m.err)
			}
			switch m.ev.Type {
			case parleyv1.TypeSessionUpdated:
				c.mic = newMic(c.conn, c.spoke)
				go c.mic.run(ctx)
				return nil
			case parleyv1.TypeError:
				return fmt.Errorf("session.update refused: %s: %s", m.ev.Code, m.ev.Message)
			}
		case <-deadline.C:
			return errors.New("no session.updated in time")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *conv) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// read forwards every server message to c.in until the connection ends.
func (c *conv) read(ctx context.Context) {
	for {
		typ, data, err := c.conn.Read(ctx)
		now := time.Now()
		if err != nil {
			c.in <- incoming{err: err, at: now}
			return
		}
		if typ == websocket.MessageBinary {
			c.in <- incoming{audioBytes: len(data), at: now}
			continue
		}
		var ev wireEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			c.in <- incoming{err: fmt.Errorf("a server message is not JSON: %.100s", data), at: now}
			return
		}
		c.in <- incoming{ev: ev, at: now}
	}
}

// start begins turn i: its speech goes to the microphone, or its text is
// sent.
func (c *conv) start(ctx context.Context, i int) error {
	ts := c.turns[i]
	ts.started, ts.startedAt = true, time.Now()
	c.cur = i
	if ts.turn.spoken() {
		c.mic.speak(i, ts.turn.audio)
		return nil
	}
	ts.speechEndAt, ts.Transcript = ts.startedAt, ts.turn.Text
	return c.send(ctx, map[string]any{"type": parleyv1.TypeInputText, "text": ts.turn.Text})
}

// waitFor handles events until cond holds (true), the deadline passes or
// the connection ends (false).
func (c *conv) waitFor(ctx context.Context, d time.Duration, cond func() bool) (bool, error) {
	if cond() {
		return true, nil
	}
	if c.closed != nil {
		return false, c.closed
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case m := <-c.in:
			if m.err != nil {
				c.closed = m.err
				return cond(), m.err
			}
			if err := c.handle(ctx, m); err != nil {
				return false, err
			}
		case s := <-c.spoke:
			c.turns[s.turn].speechEndAt = s.at
		case <-deadline.C:
			return cond(), nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if cond() {
			return true, nil
		}
	}
}

// settle handles events for d (a gap of silence between turns).
func (c *conv) settle(ctx context.Context, d time.Duration) error {
	_, err := c.waitFor(ctx, d, func() bool { return false })
	return err
}

// ownerOf returns the turn a response belongs to: the one it was seen
// with before, else the earliest started turn still without a reply,
// else the latest started turn (a turn the server split in two).
func (c *conv) ownerOf(id string) *turnState {
	if i, ok := c.owner[id]; ok {
		return c.turns[i]
	}
	idx := c.cur
	for i := 0; i <= c.cur; i++ {
		if c.turns[i].responses == 0 {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil
	}
	c.owner[id] = idx
	ts := c.turns[idx]
	ts.responses++
	ts.terminal, ts.complete = false, false
	ts.replies = append(ts.replies, "")
	return ts
}

func (c *conv) handle(ctx context.Context, m incoming) error {
	if m.audioBytes > 0 {
		if c.audioTo >= 0 {
			ts := c.turns[c.audioTo]
			if ts.firstAudioAt.IsZero() {
				ts.firstAudioAt = m.at
			}
			ts.audio += time.Duration(m.audioBytes/2) * time.Second / audio.SampleRate
		}
		return nil
	}
	ev := m.ev
	var ts *turnState
	if ev.ResponseID != "" {
		ts = c.ownerOf(ev.ResponseID)
	} else if c.cur >= 0 {
		ts = c.turns[c.cur]
	}
	if ts == nil {
		return nil
	}
	last := len(ts.replies) - 1
	switch ev.Type {
	case parleyv1.TypeTranscriptFinal:
		ts.Transcript = strings.TrimSpace(ts.Transcript + " " + ev.Text)
	case parleyv1.TypeAudioStarted:
		c.audioTo = c.owner[ev.ResponseID]
	case parleyv1.TypeResponseDone:
		ts.replies[last], ts.terminal = ev.Text, true
		if ev.Status != "completed" {
			ts.Failed = append(ts.Failed, ev.ResponseID)
		}
	case parleyv1.TypeResponseInterrupted:
		ts.replies[last] = ev.TextPlayed
		if !ev.Resumable {
			ts.Interrupted, ts.terminal = true, true
		}
	case parleyv1.TypeMetrics:
		if ev.VoiceToVoice != nil && ts.VoiceToVoiceMS == nil {
			ts.VoiceToVoiceMS = ev.VoiceToVoice
		}
		ts.complete = ts.terminal
	case parleyv1.TypeToolCall:
		return c.toolCall(ctx, ts, ev)
	case parleyv1.TypeError:
		ts.Errors = append(ts.Errors, ErrorEvent{Code: ev.Code, Message: ev.Message})
	}
	return nil
}

// toolCall records a call and answers a client one from the scenario.
func (c *conv) toolCall(ctx context.Context, ts *turnState, ev wireEvent) error {
	var args map[string]any
	_ = json.Unmarshal(ev.Arguments, &args)
	ts.ToolCalls = append(ts.ToolCalls, ToolCall{Name: ev.Name, Arguments: args, Location: ev.Location})
	if ev.Location != "client" {
		return nil
	}
	out, ok := ts.turn.ToolResults[ev.Name]
	if !ok {
		out, ok = c.sc.ToolResults[ev.Name]
	}
	res := map[string]any{"type": parleyv1.TypeToolResult, "call_id": ev.CallID, "output": out}
	if !ok {
		res["output"], res["is_error"] = "the eval scenario gives no result for "+ev.Name, true
		ts.Notes = append(ts.Notes, fmt.Sprintf("client tool %s called but the scenario gives no result for it", ev.Name))
	}
	return c.send(ctx, res)
}

// mic streams 20 ms frames at real time, as a microphone does: a turn's
// speech when there is some, silence otherwise.
type mic struct {
	conn  *websocket.Conn
	spoke chan<- spoke

	mu      sync.Mutex
	pending []int16
	turn    int
}

func newMic(conn *websocket.Conn, sp chan<- spoke) *mic {
	return &mic{conn: conn, spoke: sp, turn: -1}
}

// speak queues a turn's speech after whatever is still queued.
func (m *mic) speak(turn int, pcm []int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = append(m.pending, pcm...)
	m.turn = turn
}

// run sends a frame every 20 ms; a late tick sends the frames it owes.
func (m *mic) run(ctx context.Context) {
	tick := time.NewTicker(audio.FrameDuration)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	frame := make([]int16, audio.FrameSamples)
	buf := make([]byte, 0, 2*audio.FrameSamples)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for due := int(now.Sub(start) / audio.FrameDuration); sent < due; sent++ {
				done := m.next(frame)
				buf = audio.EncodePCM16LE(buf[:0], frame)
				if err := m.conn.Write(ctx, websocket.MessageBinary, buf); err != nil {
					return
				}
				if done >= 0 {
					select {
					case m.spoke <- spoke{turn: done, at: time.Now()}:
					case <-ctx.Done():
						return
					}
				}
			}
		}
	}
}

// next fills frame with queued speech or silence; it returns the turn
// whose speech this frame finished, or -1.
func (m *mic) next(frame []int16) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := copy(frame, m.pending)
	clear(frame[n:])
	if n == 0 {
		return -1
	}
	m.pending = m.pending[n:]
	if len(m.pending) == 0 {
		m.pending = nil
		return m.turn
	}
	return -1
}
