package mediastream_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/mediastream"
	"github.com/parleyhq/parley/server/internal/session"
)

// Messages as Twilio documents them (values shortened).
const (
	twConnected = `{"event":"connected","protocol":"Call","version":"1.0.0"}`
	twStart     = `{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC123","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"token":"t","to":"+15551234567"}},"streamSid":"MZ1"}`
	twMark      = `{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"resp_1@1200"}}`
	twDTMF      = `{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"5"}}`
	twStop      = `{"event":"stop","sequenceNumber":"6","streamSid":"MZ1","stop":{"accountSid":"AC123","callSid":"CA1"}}`
)

func twMedia(payload string) string {
	return `{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"` + payload + `"},"streamSid":"MZ1"}`
}

func TestTwilioParse(t *testing.T) {
	d := mediastream.Twilio{}
	codes := []byte{0xFF, 0x7F, 0x80, 0x00}
	for _, tc := range []struct {
		name   string
		in     string
		stream string
		want   mediastream.Message
	}{
		{"connected", twConnected, "", mediastream.Connected{Protocol: "Call", Version: "1.0.0"}},
		{"start", twStart, "MZ1", mediastream.Start{
			StreamID: "MZ1", CallID: "CA1", AccountID: "AC123", Tracks: []string{"inbound"}, Law: audio.Mulaw,
			SampleRate: 8000, Channels: 1, Params: map[string]string{"token": "t", "to": "+15551234567"},
		}},
		{"media", twMedia(base64.StdEncoding.EncodeToString(codes)), "MZ1", mediastream.Media{Track: "inbound", Payload: codes}},
		{"mark", twMark, "MZ1", mediastream.Mark{Name: "resp_1@1200"}},
		{"dtmf", twDTMF, "MZ1", mediastream.DTMF{Digit: "5"}},
		{"stop", twStop, "MZ1", mediastream.Stop{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := d.Parse([]byte(tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.stream, env.StreamID)
			assert.Equal(t, tc.want, env.Message)
		})
	}
	for _, tc := range []struct {
		name   string
		in     string
		reason mediastream.Reason
	}{
		{"not json", `{"event":`, mediastream.ReasonNotJSON},
		{"wrong type", `{"event":5}`, mediastream.ReasonMalformed},
		{"unknown event", `{"event":"dance"}`, mediastream.ReasonUnknownEvent},
		{"start without call", `{"event":"start","start":{"streamSid":"MZ1"}}`, mediastream.ReasonMalformed},
		{"wav", `{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1","mediaFormat":{"encoding":"audio/wav","sampleRate":8000,"channels":1}}}`, mediastream.ReasonBadFormat},
		{"16 kHz", `{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":16000,"channels":1}}}`, mediastream.ReasonBadFormat},
		{"bad base64", twMedia("@@@"), mediastream.ReasonBadPayload},
		{"media without media", `{"event":"media","streamSid":"MZ1"}`, mediastream.ReasonMalformed},
		{"nameless mark", `{"event":"mark","streamSid":"MZ1","mark":{}}`, mediastream.ReasonBadMark},
		{"bad digit", `{"event":"dtmf","streamSid":"MZ1","dtmf":{"digit":"x"}}`, mediastream.ReasonBadDigit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Parse([]byte(tc.in))
			var me *mediastream.Error
			require.True(t, errors.As(err, &me), "got %v", err)
			assert.Equal(t, tc.reason, me.Reason)
			assert.ErrorIs(t, err, mediastream.ErrRefused)
		})
	}
}

// TestTwilioOutbound: the messages Parley sends are Twilio's documented
// shapes, each with the call's streamSid.
func TestTwilioOutbound(t *testing.T) {
	d := mediastream.Twilio{}
	var got map[string]any
	require.NoError(t, json.Unmarshal(d.Media(`MZ"1`, []byte{1, 2, 3}), &got))
	assert.Equal(t, map[string]any{"event": "media", "streamSid": `MZ"1`, "media": map[string]any{"payload": "AQID"}}, got)
	assert.JSONEq(t, `{"event":"mark","streamSid":"MZ1","mark":{"name":"resp_1@20"}}`, string(d.Mark("MZ1", "resp_1@20")))
	assert.JSONEq(t, `{"event":"clear","streamSid":"MZ1"}`, string(d.Clear("MZ1")))
}

func TestMarkNames(t *testing.T) {
	name := mediastream.MarkName("resp_12", 1500*time.Millisecond)
	assert.Equal(t, "resp_12@1500", name)
	assert.Equal(t, "resp_12@390", mediastream.MarkName("resp_12", 389875*time.Microsecond), "rounded up: the echo covers the span")
	id, at, ok := mediastream.ParseMarkName(name)
	require.True(t, ok)
	assert.Equal(t, "resp_12", id)
	assert.Equal(t, 1500*time.Millisecond, at)
	for _, bad := range []string{"", "resp_1", "@5", "resp_1@", "resp_1@-5", "resp_1@x"} {
		_, _, ok := mediastream.ParseMarkName(bad)
		assert.False(t, ok, bad)
	}
}

// wire records what a Sink sends.
type wire struct {
	mu     sync.Mutex
	texts  []string
	closed mediastream.CloseCode
}

func (w *wire) SendText(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.texts = append(w.texts, string(b))
	return nil
}

func (w *wire) Close(code mediastream.CloseCode, _ string) { w.closed = code }

func TestSink(t *testing.T) {
	w := &wire{}
	var errs []session.Error
	s := mediastream.NewSink(w, mediastream.Twilio{}, audio.Mulaw, "MZ1", func(e session.Error) { errs = append(errs, e) })
	frame := make([]byte, 2*160) // 20 ms of silence at 8 kHz
	require.NoError(t, s.Audio(frame))
	require.NoError(t, s.Event(session.AudioMark{ResponseID: "resp_1", End: 400 * time.Millisecond}))
	require.NoError(t, s.Event(session.TextDelta{ResponseID: "resp_1", Delta: "hi"}))
	require.NoError(t, s.Event(session.ResponseInterrupted{ResponseID: "resp_1"}))
	require.NoError(t, s.Event(session.NewError(session.CodeSTTFailed, "boom", nil)))
	s.Close(session.EndByAgent, "end_session")

	require.Len(t, w.texts, 3, "media, mark, clear; nothing for the text delta")
	var media struct {
		Event, StreamSid string
		Media            struct{ Payload string }
	}
	require.NoError(t, json.Unmarshal([]byte(w.texts[0]), &media))
	codes, err := base64.StdEncoding.DecodeString(media.Media.Payload)
	require.NoError(t, err)
	assert.Len(t, codes, 160, "one byte per sample")
	assert.Equal(t, byte(0xFF), codes[0], "μ-law silence")
	assert.JSONEq(t, `{"event":"mark","streamSid":"MZ1","mark":{"name":"resp_1@400"}}`, w.texts[1])
	assert.JSONEq(t, `{"event":"clear","streamSid":"MZ1"}`, w.texts[2])
	require.Len(t, errs, 1)
	assert.Equal(t, mediastream.CloseNormal, w.closed)
}

// FuzzTwilioParse: any input is a message or a refusal with a reason.
func FuzzTwilioParse(f *testing.F) {
	for _, s := range []string{twConnected, twStart, twMedia("AAEC"), twMark, twDTMF, twStop, `{"event":1}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := mediastream.Twilio{}.Parse(data)
		if err != nil {
			var me *mediastream.Error
			if !errors.As(err, &me) || me.Reason == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		if env.Message == nil {
			t.Fatal("no message and no error")
		}
	})
}
