// Package sdk is the contract between Parley and its plugins.
//
// Vendors implement one of the STT, LLM or TTS interfaces with plain Go
// types and call Serve from their main function; Parley talks to the plugin
// process over gRPC (hashicorp/go-plugin). The same interfaces are what the
// Parley server consumes, so in-process fakes and real plugin clients are
// interchangeable. This package imports nothing from Parley's server.
package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// Kind says which of the three plugin roles a plugin plays.
type Kind string

// The plugin kinds.
const (
	KindSTT Kind = "stt"
	KindLLM Kind = "llm"
	KindTTS Kind = "tts"
)

// Encoding names an audio sample encoding.
type Encoding string

// EncodingPCM16LE is signed 16-bit little-endian linear PCM, mono. It is the
// only encoding Parley exchanges with plugins today.
const EncodingPCM16LE Encoding = "pcm16le"

// AudioFormat describes a stream of audio.
type AudioFormat struct {
	Encoding   Encoding
	SampleRate int
	Channels   int
}

// Info describes a plugin: who it is and what it can do.
type Info struct {
	Name         string
	Version      string
	Kind         Kind
	Capabilities []string
	AudioFormats []AudioFormat
}

// Plugin is what every plugin implements besides its kind's interface.
type Plugin interface {
	// Info describes the plugin. It must be cheap and side-effect free.
	Info(ctx context.Context) (Info, error)
	// Configure applies the plugin's own settings, given as the JSON object
	// found under the plugin's `config` key in Parley's configuration. Invalid
	// settings return an *Error with CodeInvalidArgument naming the field.
	Configure(ctx context.Context, settings json.RawMessage) error
}

// STTConfig opens a recognition stream.
type STTConfig struct {
	SampleRate     int
	Encoding       Encoding
	Language       string
	InterimResults bool
	// SessionID names the conversation the stream belongs to: the same for
	// every stream of one session (the host opens one per speech segment),
	// so a plugin may keep what it learnt of a caller from one stream to
	// the next. Opaque; empty when the host does not say.
	SessionID string
}

// TranscriptEvent is a partial or final recognition result. Start and End
// are offsets from the start of the stream's audio.
type TranscriptEvent struct {
	Text       string
	Final      bool
	Confidence float32
	Start      time.Duration
	End        time.Duration
}

// STT is a streaming speech-to-text plugin.
type STT interface {
	Plugin
	// Transcribe opens a bidirectional recognition stream. The stream ends
	// when ctx is cancelled or after CloseSend once all events were received.
	Transcribe(ctx context.Context, cfg STTConfig) (STTStream, error)
}

// STTStream is one open recognition stream. SendAudio, Flush and CloseSend
// are called from one goroutine and Recv from one other goroutine.
type STTStream interface {
	// SendAudio passes audio in the stream's format (a whole number of samples).
	SendAudio(pcm []byte) error
	// Flush marks the end of an utterance: the plugin emits a final
	// transcript for the audio received since the previous flush.
	Flush() error
	// CloseSend says no more input follows; pending audio is flushed.
	CloseSend() error
	// Recv returns the next event, or io.EOF after the last one.
	Recv() (TranscriptEvent, error)
}

// Role is the author of a conversation message.
type Role string

// The message roles.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// ToolCall is a model's request to run a tool. Arguments is a JSON object.
type ToolCall struct {
	ID        string
	Name      string
	Arguments json.RawMessage
}

// Message is one turn of a conversation. An assistant message may carry
// ToolCalls; a tool message answers the call named by ToolCallID.
type Message struct {
	Role       Role
	Content    string
	ToolCalls  []ToolCall
	ToolCallID string
	IsError    bool
}

// Tool declares a tool the model may call. Parameters is a JSON Schema object.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
}

// GenerateRequest asks a model for the next assistant turn.
type GenerateRequest struct {
	Messages  []Message
	Tools     []Tool
	MaxTokens int
	// Temperature is nil for the provider's default.
	Temperature *float32
}

// StopReason says why a generation ended.
type StopReason string

// The stop reasons.
const (
	StopEndTurn   StopReason = "end_turn"
	StopToolUse   StopReason = "tool_use"
	StopMaxTokens StopReason = "max_tokens"
	StopOther     StopReason = "other"
)

// Usage counts tokens of one generation.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// Done ends a generation.
type Done struct {
	StopReason StopReason
	Usage      Usage
}

// GenerateEvent is one streamed piece of a generation: exactly one of
// TextDelta (non-empty), ToolCall or Done is set.
type GenerateEvent struct {
	TextDelta string
	ToolCall  *ToolCall
	Done      *Done
}

// LLM is a streaming language-model plugin.
type LLM interface {
	Plugin
	// Generate streams the next assistant turn for req.
	Generate(ctx context.Context, req GenerateRequest) (LLMStream, error)
}

// LLMStream is one running generation.
type LLMStream interface {
	// Recv returns the next event, or io.EOF after Done was received.
	Recv() (GenerateEvent, error)
}

// TTSConfig opens a synthesis stream.
type TTSConfig struct {
	Voice      string
	SampleRate int
	Encoding   Encoding
	// Speed scales the speaking rate; 0 means the plugin's default (1.0).
	Speed float32
}

// AudioChunk is synthesized audio with the span of text it speaks.
// TextStart and TextEnd are byte offsets into all text sent on the stream.
type AudioChunk struct {
	PCM        []byte
	SampleRate int
	TextStart  int
	TextEnd    int
}

// TTS is a streaming text-to-speech plugin.
type TTS interface {
	Plugin
	// Synthesize opens a bidirectional synthesis stream.
	Synthesize(ctx context.Context, cfg TTSConfig) (TTSStream, error)
}

// TTSStream is one open synthesis stream. SendText, Flush and CloseSend are
// called from one goroutine and Recv from one other goroutine.
type TTSStream interface {
	// SendText appends text to synthesize. The plugin may wait for a
	// sentence boundary before speaking.
	SendText(text string) error
	// Flush asks the plugin to speak all text received so far.
	Flush() error
	// CloseSend says no more text follows; pending text is spoken.
	CloseSend() error
	// Recv returns the next chunk, or io.EOF after the last one.
	Recv() (AudioChunk, error)
}
