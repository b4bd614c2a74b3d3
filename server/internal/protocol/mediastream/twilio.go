package mediastream

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/parleyhq/parley/server/internal/audio"
)

// Twilio is the dialect of Twilio Media Streams (bidirectional, through
// <Connect><Stream>): https://www.twilio.com/docs/voice/media-streams/websocket-messages.
type Twilio struct{}

var _ Dialect = Twilio{}

// Twilio's media formats.
const (
	twilioMulaw = "audio/x-mulaw"
	twilioAlaw  = "audio/x-alaw"
)

// twilioIn is every inbound message; only the part its event names is set.
type twilioIn struct {
	Event     string `json:"event"`
	StreamSID string `json:"streamSid"`
	Protocol  string `json:"protocol"`
	Version   string `json:"version"`
	Start     *struct {
		StreamSID   string   `json:"streamSid"`
		CallSID     string   `json:"callSid"`
		AccountSID  string   `json:"accountSid"`
		Tracks      []string `json:"tracks"`
		MediaFormat struct {
			Encoding   string `json:"encoding"`
			SampleRate int    `json:"sampleRate"`
			Channels   int    `json:"channels"`
		} `json:"mediaFormat"`
		CustomParameters map[string]string `json:"customParameters"`
	} `json:"start"`
	Media *struct {
		Track   string `json:"track"`
		Payload string `json:"payload"`
	} `json:"media"`
	Mark *struct {
		Name string `json:"name"`
	} `json:"mark"`
	DTMF *struct {
		Digit string `json:"digit"`
	} `json:"dtmf"`
}

// Name implements Dialect.
func (Twilio) Name() string { return "twilio" }

// Parse implements Dialect.
func (Twilio) Parse(data []byte) (Envelope, error) {
	if !json.Valid(data) {
		return Envelope{}, refuse(ReasonNotJSON, "message is not JSON")
	}
	var m twilioIn
	if err := json.Unmarshal(data, &m); err != nil {
		return Envelope{}, refuse(ReasonMalformed, err.Error())
	}
	env := Envelope{StreamID: m.StreamSID}
	switch m.Event {
	case "connected":
		env.Message = Connected{Protocol: m.Protocol, Version: m.Version}
	case "start":
		if m.Start == nil || m.Start.StreamSID == "" || m.Start.CallSID == "" {
			return Envelope{}, refuse(ReasonMalformed, "start without streamSid or callSid")
		}
		s := m.Start
		var law audio.G711
		switch s.MediaFormat.Encoding {
		case twilioMulaw:
			law = audio.Mulaw
		case twilioAlaw:
			law = audio.Alaw
		default:
			return Envelope{}, refuse(ReasonBadFormat, "encoding "+s.MediaFormat.Encoding)
		}
		if s.MediaFormat.SampleRate != audio.G711Rate || s.MediaFormat.Channels > 1 {
			return Envelope{}, refuse(ReasonBadFormat, "only 8000 Hz mono is supported")
		}
		env.StreamID = s.StreamSID
		env.Message = Start{
			StreamID: s.StreamSID, CallID: s.CallSID, AccountID: s.AccountSID, Tracks: s.Tracks,
			Law: law, SampleRate: s.MediaFormat.SampleRate, Channels: 1, Params: s.CustomParameters,
		}
	case "media":
		if m.Media == nil {
			return Envelope{}, refuse(ReasonMalformed, "media without media")
		}
		codes, err := base64.StdEncoding.DecodeString(m.Media.Payload)
		if err != nil {
			return Envelope{}, refuse(ReasonBadPayload, "payload is not base64")
		}
		env.Message = Media{Track: m.Media.Track, Payload: codes}
	case "mark":
		if m.Mark == nil || m.Mark.Name == "" {
			return Envelope{}, refuse(ReasonBadMark, "mark without a name")
		}
		env.Message = Mark{Name: m.Mark.Name}
	case "dtmf":
		if m.DTMF == nil || len(m.DTMF.Digit) != 1 || !strings.Contains(dtmfKeys, m.DTMF.Digit) {
			return Envelope{}, refuse(ReasonBadDigit, "dtmf digit must be one of "+dtmfKeys)
		}
		env.Message = DTMF{Digit: m.DTMF.Digit}
	case "stop":
		env.Message = Stop{}
	default:
		return Envelope{}, refuse(ReasonUnknownEvent, "event "+quote(m.Event))
	}
	return env, nil
}

// dtmfKeys are the keys of a phone keypad.
const dtmfKeys = "0123456789*#ABCD"

// Media implements Dialect. The message is built by hand: it is sent 50
// times a second per call, and only streamSid needs escaping.
func (Twilio) Media(streamID string, codes []byte) []byte {
	const head, mid, tail = `{"event":"media","streamSid":`, `,"media":{"payload":"`, `"}}`
	sid := quote(streamID)
	out := make([]byte, 0, len(head)+len(sid)+len(mid)+base64.StdEncoding.EncodedLen(len(codes))+len(tail))
	out = append(out, head...)
	out = append(out, sid...)
	out = append(out, mid...)
	out = base64.StdEncoding.AppendEncode(out, codes)
	return append(out, tail...)
}

// Mark implements Dialect.
func (Twilio) Mark(streamID, name string) []byte {
	return []byte(`{"event":"mark","streamSid":` + quote(streamID) + `,"mark":{"name":` + quote(name) + `}}`)
}

// Clear implements Dialect.
func (Twilio) Clear(streamID string) []byte {
	return []byte(`{"event":"clear","streamSid":` + quote(streamID) + `}`)
}

// quote is s as a JSON string.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return `""`
	}
	return string(b)
}
