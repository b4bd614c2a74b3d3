// Package realtime is the OpenAI Realtime protocol (GA events) over a
// Parley session: existing Realtime clients (the official SDKs) talk to
// any STT/LLM/TTS plugins through Parley.
//
// A Conn holds the protocol's state of one connection — the session
// config as the client sees it, the conversation's items and ids, the
// open response — and works both ways: Handle turns one client event into
// session commands and audio (answering refused events with `error`
// events), and the Conn is the session.Sink that encodes session events
// as Realtime server events in the protocol's order. The transport
// (transport/realtime) moves bytes; the mapping table is its README.
package realtime

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/wsclose"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/tools"
)

// Subprotocol is the WebSocket subprotocol browsers offer (with the
// API key as a second, APIKeySubprotocolPrefix-ed entry).
const Subprotocol = "realtime"

// APIKeySubprotocolPrefix prefixes the API key in Sec-WebSocket-Protocol
// in the official SDK's browser client.
const APIKeySubprotocolPrefix = "openai-insecure-api-key."

// PCMRate is the sample rate of audio/pcm (the only one the GA protocol
// has).
const PCMRate = 24000

// Mapping constants.
const (
	// dbPerThreshold maps server_vad threshold (0..1, OpenAI default
	// 0.5) onto Parley's energy threshold in dB above the noise floor
	// (default 12 dB).
	dbPerThreshold = 24.0
	// Semantic VAD eagerness as end-of-turn silence.
	eagerLowSilence    = 1200 * time.Millisecond
	eagerMediumSilence = 700 * time.Millisecond
	eagerHighSilence   = 400 * time.Millisecond
	// bytesPerSample of PCM16.
	bytesPerSample = 2
	// toolChoiceAuto is the only tool_choice Parley honours.
	toolChoiceAuto = `"auto"`
	// conversationNone asks for an out-of-band response.
	conversationNone = "none"
	// conversationID names the one conversation of a session.
	conversationID = "conv_1"
)

// Wire is a Realtime connection as a transport offers it: text messages
// and a close with a code; it follows the session.Sink rules
// (concurrency-safe, never blocking).
type Wire interface {
	// SendText queues one JSON text message.
	SendText(msg []byte) error
	// Close ends the connection with code and reason after queued output.
	Close(code wsclose.Code, reason string)
}

// Inbound is what one client event asks of the session.
type Inbound struct {
	Commands []session.Command
	// Audio is PCM16LE at the session's input rate (nil: none).
	Audio []byte
}

// settings are the session config as the client sees it.
type settings struct {
	model        string
	modalities   []string
	instructions string
	voice        string
	inFmt        audioFormat
	outFmt       audioFormat
	transcribe   json.RawMessage
	turn         turnDetection
	tools        []functionTool
}

// outResponse is the Realtime response being streamed.
type outResponse struct {
	id       string
	sessResp string
	output   []item
	// msg is the open assistant message (index msgIndex of output).
	msg      *item
	msgIndex int
	text     strings.Builder
	// audioBase is where msg's audio starts in the session response's
	// audio.
	audioBase time.Duration
}

// assistantItem links an assistant message to its session response.
type assistantItem struct {
	sessResp  string
	audioBase time.Duration
}

// Conn is the protocol state of one connection; safe for concurrent use
// (Handle from the reader, the Sink methods from the session).
type Conn struct {
	w Wire

	mu        sync.Mutex
	events    int
	nextItem  int
	nextResp  int
	sessionID string
	cfg       settings
	items     []item
	// assistant maps assistant message ids to session responses.
	assistant map[string]assistantItem
	// user input: the item of the utterance and its transcript so far.
	userItem string
	partial  string
	// output
	resp *outResponse
	// sessResp is the session response in progress ("" none).
	sessResp string
	// sessAudio is how much audio of sessResp was sent.
	sessAudio time.Duration
	// sessOOB: sessResp is out of band (its items join no conversation).
	sessOOB bool
	// waiting: sessResp stopped at a client tool call; its next output
	// opens a new Realtime response.
	waiting bool
	// absorb counts response.create events that the continuation after a
	// function_call_output already answers.
	absorb int
	// pendingCalls are client tool calls not yet answered.
	pendingCalls map[string]bool
	// appended is the audio since the last commit or clear; committed
	// are the user items whose transcripts are to come (turn_detection
	// null).
	appended  time.Duration
	committed []pendingUser
	// speechStart and userAudio time the current spoken user item.
	speechStart, userAudio time.Duration
	// speechEnd is where the last speech of the turn stopped.
	speechEnd time.Duration
	scratch   []byte
}

// pendingUser is a committed user item awaiting its transcript.
type pendingUser struct {
	id    string
	audio time.Duration
}

// manual reports turn_detection null.
func (c *Conn) manual() bool { return c.cfg.turn.Type == "" }

var _ session.Sink = (*Conn)(nil)

// NewConn returns the protocol state of a new connection; model is the
// `?model=` of the request (echoed, not used to choose plugins).
func NewConn(w Wire, model string) *Conn {
	return &Conn{
		w: w, assistant: map[string]assistantItem{}, pendingCalls: map[string]bool{},
		cfg: settings{
			model: model, modalities: []string{modalityAudio},
			inFmt: audioFormat{Type: formatPCM, Rate: PCMRate}, outFmt: audioFormat{Type: formatPCM, Rate: PCMRate},
			turn: turnDetection{Type: vadServer},
		},
	}
}

// InputRate and OutputRate are the session's PCM rates for the default
// formats (audio/pcm at 24 kHz).
const (
	InputRate  = PCMRate
	OutputRate = PCMRate
)

func (c *Conn) eventID() string {
	c.events++
	return "event_" + strconv.Itoa(c.events)
}

func (c *Conn) itemID() string {
	c.nextItem++
	return "item_" + strconv.Itoa(c.nextItem)
}

// send encodes and queues one event (c.mu held).
func (c *Conn) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.w.SendText(b)
}

// Refuse sends an error event for a message the transport refused
// (binary, too large).
func (c *Conn) Refuse(code Code, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sendRefusal(refuse(code, "", msg), "")
}

func (c *Conn) sendRefusal(e *refusal, clientEventID string) {
	we := wireError{Type: TypeInvalidRequest, Code: string(e.Code), Message: e.Message}
	if e.Param != "" {
		we.Param = &e.Param
	}
	if clientEventID != "" {
		we.EventID = &clientEventID
	}
	_ = c.send(errorEvent{Type: "error", EventID: c.eventID(), Error: we})
}

// lastItemID is the id of the conversation's last item (nil if none).
func (c *Conn) lastItemID() *string {
	if len(c.items) == 0 {
		return nil
	}
	id := c.items[len(c.items)-1].ID
	return &id
}

// addItem appends it to the conversation and sends conversation.item.added.
func (c *Conn) addItem(it item) {
	prev := c.lastItemID()
	c.items = append(c.items, it)
	_ = c.send(itemEvent{Type: "conversation.item.added", EventID: c.eventID(), PreviousItemID: prev, Item: it})
}

// doneItem replaces the stored item and sends conversation.item.done.
func (c *Conn) doneItem(it item) {
	var prev *string
	for i := range c.items {
		if c.items[i].ID == it.ID {
			c.items[i] = it
			if i > 0 {
				p := c.items[i-1].ID
				prev = &p
			}
		}
	}
	_ = c.send(itemEvent{Type: "conversation.item.done", EventID: c.eventID(), PreviousItemID: prev, Item: it})
}

func (c *Conn) findItem(id string) (item, bool) {
	for _, it := range c.items {
		if it.ID == id {
			return it, true
		}
	}
	return item{}, false
}

// g711 is the codec of a format (ok false for audio/pcm).
func g711(f audioFormat) (audio.G711, bool) {
	switch f.Type {
	case formatPCMU:
		return audio.Mulaw, true
	case formatPCMA:
		return audio.Alaw, true
	}
	return 0, false
}

// rateOf is the session's PCM rate for a format.
func rateOf(f audioFormat) int {
	if _, ok := g711(f); ok {
		return audio.G711Rate
	}
	return PCMRate
}

func ptr[T any](v T) *T { return &v }

func (c *Conn) sessionObject() sessionConfig {
	s := c.cfg
	td, _ := json.Marshal(s.turn)
	if c.manual() {
		td = []byte("null")
	}
	voice, _ := json.Marshal(s.voice)
	tr := s.transcribe
	if tr == nil {
		tr = json.RawMessage("null")
	}
	tls := s.tools
	if tls == nil {
		tls = []functionTool{}
	}
	return sessionConfig{
		Type: sessionRealtime, Object: objectSession, ID: c.sessionID, Model: s.model,
		OutputModalities: s.modalities, Instructions: ptr(s.instructions),
		Audio: &audioConfig{
			Input:  &audioInput{Format: &s.inFmt, Transcription: tr, NoiseReduction: json.RawMessage("null"), TurnDetection: td},
			Output: &audioOutput{Format: &s.outFmt, Voice: voice},
		},
		Tools: &tls, ToolChoice: json.RawMessage(toolChoiceAuto), MaxOutputTokens: json.RawMessage(`"inf"`),
	}
}

// audioOut reports whether responses carry audio.
func (c *Conn) audioOut() bool {
	for _, m := range c.cfg.modalities {
		if m == modalityAudio {
			return true
		}
	}
	return false
}

// toolDefs are the client tools for the session.
func toolDefs(ts []functionTool) []tools.Definition {
	out := make([]tools.Definition, 0, len(ts))
	for _, t := range ts {
		out = append(out, tools.Definition{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
	}
	return out
}

// decodeAudio turns an append's base64 into PCM16LE at the input rate.
func (c *Conn) decodeAudio(b64 string) ([]byte, *refusal) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, refuse(CodeInvalidValue, "audio", "audio is not valid base64")
	}
	if law, ok := g711(c.cfg.inFmt); ok {
		return law.Decode(make([]byte, 0, bytesPerSample*len(raw)), raw), nil
	}
	if len(raw)%bytesPerSample != 0 {
		return nil, refuse(CodeInvalidValue, "audio", "audio/pcm must be whole 16-bit samples")
	}
	return raw, nil
}

// encodeAudio turns one session frame into the output format's base64.
func (c *Conn) encodeAudio(pcm []byte) string {
	if law, ok := g711(c.cfg.outFmt); ok {
		c.scratch = law.Encode(c.scratch[:0], pcm)
		return base64.StdEncoding.EncodeToString(c.scratch)
	}
	return base64.StdEncoding.EncodeToString(pcm)
}

// frameDuration is the playing time of pcm at the output rate.
func (c *Conn) frameDuration(pcm []byte) time.Duration {
	return time.Duration(len(pcm)/bytesPerSample) * time.Second / time.Duration(rateOf(c.cfg.outFmt))
}

func ms(d time.Duration) *int64 { return ptr(d.Milliseconds()) }
