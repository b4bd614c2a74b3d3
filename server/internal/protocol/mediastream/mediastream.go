// Package mediastream is the wire protocol of carrier media streams: a
// phone call's audio as G.711 in JSON messages over a WebSocket, with
// marks that tell what the caller heard, `clear` to drop queued audio on
// barge-in, and DTMF. Twilio Media Streams is the first dialect
// (twilio.go); Telnyx or Plivo (same idea, slightly different JSON) are one
// file each implementing Dialect.
//
// The package parses a dialect's messages into the typed model below,
// and implements the session.Sink of a call (Sink): audio frames become
// G.711 media messages, AudioMark events marks, ResponseInterrupted a
// clear. The transport (transport/telephony) turns inbound messages into
// session commands.
package mediastream

import (
	"github.com/parleyhq/parley/server/internal/audio"
)

// Message is one inbound message: one of the types below.
type Message interface{ isMessage() }

// Connected is the first message of a stream.
type Connected struct{ Protocol, Version string }

// Start describes the call and its audio; it precedes all media.
type Start struct {
	StreamID, CallID, AccountID string
	// Tracks are the audio tracks streamed ("inbound").
	Tracks []string
	// Law is the audio encoding; SampleRate and Channels its format.
	Law        audio.G711
	SampleRate int
	Channels   int
	// Params are the custom parameters of the stream (TwiML <Parameter>).
	Params map[string]string
}

// Media is one chunk of the caller's audio (G.711 codes, usually 20 ms).
type Media struct {
	Track   string
	Payload []byte
}

// Mark echoes a mark the server sent: the audio queued before it has been
// played (or was dropped by a clear).
type Mark struct{ Name string }

// DTMF is one keypad digit.
type DTMF struct{ Digit string }

// Stop ends the stream (the call hung up or the TwiML moved on).
type Stop struct{}

func (Connected) isMessage() {}
func (Start) isMessage()     {}
func (Media) isMessage()     {}
func (Mark) isMessage()      {}
func (DTMF) isMessage()      {}
func (Stop) isMessage()      {}

// Envelope is a parsed message with the stream it names ("" when the
// message carries none, like Connected).
type Envelope struct {
	StreamID string
	Message  Message
}

// Dialect is one carrier's JSON.
type Dialect interface {
	// Name is the carrier ("twilio"), for logs and metric labels.
	Name() string
	// Parse parses one inbound text message. Errors are *Error.
	Parse(data []byte) (Envelope, error)
	// Media returns the outbound message carrying G.711 codes.
	Media(streamID string, codes []byte) []byte
	// Mark returns the outbound mark message.
	Mark(streamID, name string) []byte
	// Clear returns the message that drops the call's queued audio.
	Clear(streamID string) []byte
}
