package parleyv1

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/tools"
)

// The server event types.
const (
	TypeConnectionEstablished = "connection_established"
	TypeSessionUpdated        = "session.updated"
	TypeSpeechStarted         = "vad.speech_started"
	TypeSpeechStopped         = "vad.speech_stopped"
	TypeTurnEnded             = "turn.ended"
	TypeBackchannel           = "input.backchannel"
	TypeResponseResumed       = "response.resumed"
	TypeTranscriptPartial     = "transcript.partial"
	TypeTranscriptFinal       = "transcript.final"
	TypeTextDelta             = "response.text.delta"
	TypeAudioStarted          = "response.audio.started"
	TypeResponseDone          = "response.done"
	TypeResponseInterrupted   = "response.interrupted"
	TypeToolCall              = "tool.call"
	TypeMetrics               = "metrics"
	TypeError                 = "error"
	TypePong                  = "pong"
)

// encodingPCM16LE names the only audio encoding of the protocol.
const encodingPCM16LE = "pcm16le"

// audioFormat describes a PCM stream in events.
type audioFormat struct {
	Encoding   string `json:"encoding"`
	SampleRate int    `json:"sample_rate"`
	Channels   int    `json:"channels"`
}

func pcmFormat(rate int) audioFormat {
	return audioFormat{Encoding: encodingPCM16LE, SampleRate: rate, Channels: 1}
}

type connectionEstablished struct {
	Type              string            `json:"type"`
	SessionID         session.SessionID `json:"session_id"`
	Protocol          string            `json:"protocol"`
	InputAudioFormat  audioFormat       `json:"input_audio_format"`
	OutputAudioFormat audioFormat       `json:"output_audio_format"`
	AwaitingUpdate    bool              `json:"awaiting_update"`
}

type sessionUpdated struct {
	Type              string      `json:"type"`
	InputAudioFormat  audioFormat `json:"input_audio_format"`
	OutputAudioFormat audioFormat `json:"output_audio_format"`
	Voice             string      `json:"voice"`
	Language          string      `json:"language"`
	MinSilenceMS      int64       `json:"min_silence_ms"`
	MinSpeechMS       int64       `json:"min_speech_ms"`
	ThresholdDB       float64     `json:"threshold_db"`
	Tools             []string    `json:"tools"`
	Turn              turnState   `json:"turn"`
	Recording         bool        `json:"recording"`
}

type turnState struct {
	CompleteDelayMS         int64 `json:"complete_delay_ms"`
	IncompleteDelayMS       int64 `json:"incomplete_delay_ms"`
	MinInterruptionWords    int   `json:"min_interruption_words"`
	FalseInterruptionMS     int64 `json:"false_interruption_timeout_ms"`
	ResumeFalseInterruption bool  `json:"resume_false_interruption"`
	Preemptive              bool  `json:"preemptive"`
}

type speechEvent struct {
	Type    string `json:"type"`
	AudioMS int64  `json:"audio_ms"`
}

type turnEnded struct {
	Type            string `json:"type"`
	AudioMS         int64  `json:"audio_ms"`
	EndpointDelayMS int64  `json:"endpoint_delay_ms"`
	Decision        string `json:"decision"`
}

type responseResumed struct {
	Type       string `json:"type"`
	ResponseID string `json:"response_id"`
	PlayedMS   int64  `json:"played_ms"`
	TextPlayed string `json:"text_played"`
}

type transcriptEvent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type textDelta struct {
	Type       string `json:"type"`
	ResponseID string `json:"response_id"`
	Delta      string `json:"delta"`
}

type audioStarted struct {
	Type       string      `json:"type"`
	ResponseID string      `json:"response_id"`
	Format     audioFormat `json:"format"`
}

type responseDone struct {
	Type       string                 `json:"type"`
	ResponseID string                 `json:"response_id"`
	Status     session.ResponseStatus `json:"status"`
	Text       string                 `json:"text"`
}

type responseInterrupted struct {
	Type       string                  `json:"type"`
	ResponseID string                  `json:"response_id"`
	Reason     session.InterruptReason `json:"reason"`
	PlayedMS   int64                   `json:"played_ms"`
	TextPlayed string                  `json:"text_played"`
	// Resumable is present (true) when response.resumed may follow.
	Resumable bool `json:"resumable,omitempty"`
}

type toolCall struct {
	Type       string          `json:"type"`
	ResponseID string          `json:"response_id"`
	CallID     string          `json:"call_id"`
	Name       string          `json:"name"`
	Arguments  json.RawMessage `json:"arguments"`
	Location   tools.Location  `json:"location"`
}

type metrics struct {
	Type         string   `json:"type"`
	ResponseID   string   `json:"response_id"`
	STTMS        *float64 `json:"stt_final_ms,omitempty"`
	LLMTTFTMS    *float64 `json:"llm_ttft_ms,omitempty"`
	TTSTTFAMS    *float64 `json:"tts_ttfa_ms,omitempty"`
	VoiceToVoice *float64 `json:"voice_to_voice_ms,omitempty"`
	EndpointMS   *float64 `json:"endpoint_delay_ms,omitempty"`
	Decision     string   `json:"turn_decision,omitempty"`
	Preemptive   bool     `json:"preemptive,omitempty"`
}

type errorEvent struct {
	Type    string            `json:"type"`
	Code    session.ErrorCode `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details"`
	// Retryable is present (true) when trying again may succeed.
	Retryable bool `json:"retryable,omitempty"`
}

type pong struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// marshalFailed stands in for an event that could not be encoded (it
// cannot happen for the session's events; the client still learns of it).
const marshalFailed = `{"type":"error","code":"internal","message":"an event could not be encoded","details":{}}`

// Encode returns ev as one JSON text message; ok is false for events the
// protocol does not carry (ResponseStarted, AudioMark).
func Encode(ev session.Event) (msg []byte, ok bool) {
	v := encodable(ev)
	if v == nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(marshalFailed), true
	}
	return b, true
}

func encodable(ev session.Event) any {
	switch e := ev.(type) {
	case session.Established:
		return connectionEstablished{
			Type: TypeConnectionEstablished, SessionID: e.SessionID, Protocol: Version,
			InputAudioFormat: pcmFormat(e.InputRate), OutputAudioFormat: pcmFormat(e.OutputRate), AwaitingUpdate: e.AwaitingUpdate,
		}
	case session.Updated:
		return sessionUpdated{
			Type: TypeSessionUpdated, InputAudioFormat: pcmFormat(e.InputRate), OutputAudioFormat: pcmFormat(e.OutputRate),
			Voice: e.Voice, Language: e.Language, MinSilenceMS: e.MinSilence.Milliseconds(),
			MinSpeechMS: e.MinSpeech.Milliseconds(), ThresholdDB: e.ThresholdDB, Tools: nonNil(e.Tools),
			Turn: turnState{
				CompleteDelayMS: e.Turn.CompleteDelay.Milliseconds(), IncompleteDelayMS: e.Turn.IncompleteDelay.Milliseconds(),
				MinInterruptionWords: e.Turn.MinInterruptionWords, FalseInterruptionMS: e.Turn.FalseInterruptionTimeout.Milliseconds(),
				ResumeFalseInterruption: e.Turn.ResumeFalseInterruption, Preemptive: e.Turn.Preemptive,
			},
			Recording: e.Recording,
		}
	case session.SpeechStarted:
		return speechEvent{Type: TypeSpeechStarted, AudioMS: e.Audio.Milliseconds()}
	case session.SpeechStopped:
		return speechEvent{Type: TypeSpeechStopped, AudioMS: e.Audio.Milliseconds()}
	case session.TurnEnded:
		return turnEnded{
			Type: TypeTurnEnded, AudioMS: e.Audio.Milliseconds(), EndpointDelayMS: e.EndpointDelay.Milliseconds(), Decision: e.Decision,
		}
	case session.Backchannel:
		return transcriptEvent{Type: TypeBackchannel, Text: e.Text}
	case session.ResponseResumed:
		return responseResumed{
			Type: TypeResponseResumed, ResponseID: e.ResponseID, PlayedMS: e.Played.Milliseconds(), TextPlayed: e.TextPlayed,
		}
	case session.TranscriptPartial:
		return transcriptEvent{Type: TypeTranscriptPartial, Text: e.Text}
	case session.TranscriptFinal:
		return transcriptEvent{Type: TypeTranscriptFinal, Text: e.Text}
	case session.TextDelta:
		return textDelta{Type: TypeTextDelta, ResponseID: e.ResponseID, Delta: e.Delta}
	case session.AudioStarted:
		return audioStarted{Type: TypeAudioStarted, ResponseID: e.ResponseID, Format: pcmFormat(e.SampleRate)}
	case session.ResponseDone:
		return responseDone{Type: TypeResponseDone, ResponseID: e.ResponseID, Status: e.Status, Text: e.Text}
	case session.ResponseInterrupted:
		return responseInterrupted{
			Type: TypeResponseInterrupted, ResponseID: e.ResponseID, Reason: e.Reason,
			PlayedMS: e.Played.Milliseconds(), TextPlayed: e.TextPlayed, Resumable: e.Resumable,
		}
	case session.ToolCall:
		return toolCall{
			Type: TypeToolCall, ResponseID: e.ResponseID, CallID: e.CallID, Name: e.Name,
			Arguments: e.Arguments, Location: e.Location,
		}
	case session.Metrics:
		return metrics{
			Type: TypeMetrics, ResponseID: e.ResponseID, STTMS: ms(e.STTFinal), LLMTTFTMS: ms(e.LLMTTFT),
			TTSTTFAMS: ms(e.TTSTTFA), VoiceToVoice: ms(e.VoiceToVoice), EndpointMS: ms(e.EndpointDelay),
			Decision: e.TurnDecision, Preemptive: e.Preemptive,
		}
	case session.Error:
		details := e.Details
		if details == nil {
			details = map[string]string{}
		}
		return errorEvent{Type: TypeError, Code: e.Code, Message: e.Message, Details: details, Retryable: e.Retryable}
	case session.Pong:
		return pong{Type: TypePong, ID: e.ID}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ms converts an optional duration to optional milliseconds.
func ms(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	v := float64(*d) / float64(time.Millisecond)
	return &v
}
