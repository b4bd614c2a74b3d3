package telephony_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/mediastream"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/tools"
	"github.com/parleyhq/parley/server/internal/transport/telephony"
)

// TestTwilioSignatureExample checks the signature against the worked
// example of Twilio's security documentation.
func TestTwilioSignatureExample(t *testing.T) {
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"},
	}
	got := telephony.TwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
	assert.Equal(t, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", got)
}

func TestWebhook(t *testing.T) {
	h := newHarness(t, reply("Hi."), nil, nil)
	form := callForm()
	good := telephony.TwilioSignature(authToken, h.srv.URL+telephony.PathTwilioVoice, form)

	resp, tw := h.webhook(form, good)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/xml; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "ws"+strings.TrimPrefix(h.srv.URL, "http")+telephony.PathTwilioMedia, tw.Stream.URL,
		"the stream URL comes from telephony.public_url")
	names := map[string]string{}
	for _, p := range tw.Stream.Params {
		names[p.Name] = p.Value
	}
	assert.NotEmpty(t, names["token"])
	assert.Equal(t, callSID, names["call_sid"])
	assert.Equal(t, caller, names["from"])
	assert.Equal(t, called, names["to"])
	assert.NotNil(t, tw.Hangup, "the call hangs up when the stream ends")

	for _, tc := range []struct {
		name string
		sig  string
		form url.Values
	}{
		{"missing signature", "", form},
		{"wrong signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", form},
		{"signature of other parameters", good, url.Values{"CallSid": {callSID}, "From": {"+15559999999"}}},
		{"signature of another URL", telephony.TwilioSignature(authToken, "https://evil.example.com"+telephony.PathTwilioVoice, form), form},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := h.webhook(tc.form, tc.sig)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		})
	}
}

func TestWebhookUnsignedWithoutToken(t *testing.T) {
	h := newHarness(t, reply("Hi."), nil, func(s *setup) { s.tel.Twilio.AuthToken = "" })
	resp, tw := h.webhook(callForm(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotEmpty(t, tw.Stream.URL)
	resp, _ = h.webhook(url.Values{"From": {caller}}, "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "CallSid is required")
}

// TestCallConversation: a spoken question as μ-law is answered with μ-law
// in steady 20 ms media messages, a mark after each spoken piece, every
// message with the call's streamSid.
func TestCallConversation(t *testing.T) {
	llm := reply("It is three past four.")
	h := newHarness(t, llm, []string{"what time is it"}, nil)
	p := h.call()
	p.question(600 * time.Millisecond)
	seen := p.until("mark", true)
	for len(seen) < 200 && count(seen, "mark") < 5 {
		seen = append(seen, p.until("mark", true)...)
	}
	assert.Equal(t, 5, count(seen, "mark"), "one mark per spoken word (the fake TTS's spans)")
	assert.Equal(t, 50, count(seen, "media"), "5 words × 200 ms in 20 ms chunks")
	for _, o := range seen {
		assert.Equal(t, streamSID, o.StreamSID, "every message carries the streamSid")
		if o.Event == "media" {
			codes, err := base64.StdEncoding.DecodeString(o.Media.Payload)
			require.NoError(t, err)
			assert.Len(t, codes, 160, "20 ms of 8 kHz μ-law")
		}
	}
	assert.Equal(t, "what time is it", lastUser(llm))
}

// TestCallBargeIn: the caller speaks over the agent: `clear` follows the
// decision and no media of the cut reply comes after it; the history
// keeps what the last echoed mark covers, not what was sent.
func TestCallBargeIn(t *testing.T) {
	llm := reply("Once upon a time there was a fox.")
	h := newHarness(t, llm, []string{"tell me a story", "", "and then"}, nil)
	p := h.call()
	p.question(600 * time.Millisecond)
	// Twilio plays two words and echoes their marks; it has received
	// (but not played) the look-ahead after them.
	for marks := 0; marks < 2; {
		o := p.next()
		require.NoError(t, o.err)
		switch o.Event {
		case "media":
			h.clock.Advance(frameDur)
		case "mark":
			marks++
			p.echo(o.Mark.Name)
		}
	}
	p.audio(sessiontest.Speech(500*time.Millisecond, audio.G711Rate))
	p.until("clear", false)
	p.audio(sessiontest.Silence(600*time.Millisecond, audio.G711Rate)) // the interruption recognised nothing

	// The next question: between clear and the new reply's first mark
	// there is exactly the new reply's first word (10 frames), nothing of
	// the old one.
	p.question(600 * time.Millisecond)
	seen := p.until("mark", true)
	assert.Equal(t, 10, count(seen, "media"))
	id, _, ok := mediastream.ParseMarkName(seen[len(seen)-1].Mark.Name)
	require.True(t, ok)
	assert.Equal(t, "resp_2", id)
	msgs := llm.Requests()[1].Messages
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: "Once upon"}, msgs[len(msgs)-2], "what the echoed marks cover")
	assert.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "and then"}, msgs[len(msgs)-1])
}

// TestCallNumberSettings: calls to a configured number get its system
// prompt and only its tools; the session shows the call's labels.
func TestCallNumberSettings(t *testing.T) {
	llm := reply("Help line, how can I help?")
	h := newHarness(t, llm, nil, func(s *setup) {
		s.tel.Numbers = []config.PhoneNumber{{To: called, SystemPrompt: "You answer the help line.", Tools: []string{}}}
	})
	p := h.call()
	p.send(`{"event":"dtmf","streamSid":"` + streamSID + `","dtmf":{"digit":"1"}}`)
	p.until("mark", true)
	req := llm.Requests()[0]
	assert.Equal(t, "You answer the help line.", req.Messages[0].Content)
	assert.Empty(t, req.Tools, "this number allows no server tools")
	infos := h.mgr.Sessions()
	require.Len(t, infos, 1)
	assert.Equal(t, map[string]string{"call_sid": callSID, "stream_sid": streamSID, "from": caller, "to": called}, infos[0].Labels)
}

// TestCallDTMF: a keypad digit reaches the LLM as the caller's words.
func TestCallDTMF(t *testing.T) {
	llm := reply("You pressed five.")
	h := newHarness(t, llm, nil, nil)
	p := h.call()
	p.send(`{"event":"dtmf","streamSid":"` + streamSID + `","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"5"}}`)
	p.until("mark", true)
	assert.Equal(t, "The caller pressed 5.", lastUser(llm))
}

// TestCallStop: Twilio's stop ends the session.
func TestCallStop(t *testing.T) {
	h := newHarness(t, reply("Hi."), nil, nil)
	p := h.call()
	p.send(`{"event":"stop","sequenceNumber":"6","streamSid":"` + streamSID + `","stop":{"accountSid":"` + accountID + `","callSid":"` + callSID + `"}}`)
	assert.Equal(t, websocket.StatusNormalClosure, p.closeCode())
	require.Eventually(t, func() bool { return h.mgr.Count() == 0 }, waitFor, time.Millisecond)
}

// TestCallEndSessionHangsUp: the agent's end_session closes the stream
// normally (the TwiML's <Hangup/> follows) and, with rest_hangup, completes
// the call through Twilio's REST API (a local fake of it).
func TestCallEndSessionHangsUp(t *testing.T) {
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		if req.Messages[len(req.Messages)-1].Role == sdk.RoleTool {
			return sessiontest.Text("Goodbye!"), nil
		}
		return sessiontest.Call("e1", tools.ToolEndSession, `{}`), nil
	}}
	h := newHarness(t, llm, nil, func(s *setup) { s.tel.Twilio.RESTHangup = true })
	p := h.call()
	p.send(`{"event":"dtmf","streamSid":"` + streamSID + `","dtmf":{"digit":"9"}}`)
	seen := p.until("mark", true)
	assert.Positive(t, count(seen, "media"), "the goodbye is spoken")
	for {
		o := p.next()
		if o.err != nil {
			assert.Equal(t, websocket.StatusNormalClosure, o.code)
			break
		}
		if o.Event == "media" {
			h.clock.Advance(frameDur)
		}
	}
	select {
	case form := <-h.restCalls:
		assert.Equal(t, "completed", form.Get("Status"))
		assert.Equal(t, accountID+":"+authToken, <-h.restAuth)
	case <-time.After(waitFor):
		t.Fatal("no REST call to complete the call")
	}
}

// TestCallBadInput: what a confused or hostile peer sends is ignored and
// counted, and the call goes on: the next question is still answered.
func TestCallBadInput(t *testing.T) {
	llm := reply("Still here.")
	h := newHarness(t, llm, []string{"are you there"}, nil)
	tw := h.signedWebhook()
	p := h.dial(tw)
	p.send(twMedia(streamSID, "//8=")) // media before start
	p.start(tw)
	require.Eventually(t, func() bool { return h.mgr.Count() == 1 }, waitFor, time.Millisecond)
	for _, m := range []string{
		`not json`,
		`{"event":"dance","streamSid":"` + streamSID + `"}`,
		twMedia(streamSID, "@@not base64@@"),
		twMedia("MZ_someone_else", "//8="),
		`{"event":"mark","streamSid":"` + streamSID + `","mark":{"name":"not-ours"}}`,
		`{"event":"dtmf","streamSid":"` + streamSID + `","dtmf":{"digit":"xx"}}`,
		`{"event":"start","streamSid":"` + streamSID + `","start":{"streamSid":"` + streamSID + `","callSid":"` + callSID + `","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`,
		twMedia(streamSID, base64.StdEncoding.EncodeToString(make([]byte, 161))), // an odd size is audio all the same
	} {
		p.send(m)
	}
	require.NoError(t, p.c.Write(t.Context(), websocket.MessageBinary, []byte{1, 2, 3}))
	p.question(600 * time.Millisecond)
	p.until("mark", true)
	assert.Equal(t, "are you there", lastUser(llm))
	for _, r := range []mediastream.Reason{
		mediastream.ReasonBeforeStart, mediastream.ReasonNotJSON, mediastream.ReasonUnknownEvent, mediastream.ReasonBadPayload,
		mediastream.ReasonStreamMismatch, mediastream.ReasonBadMark, mediastream.ReasonBadDigit, mediastream.ReasonDuplicateStart,
		mediastream.ReasonBinary,
	} {
		assert.InDelta(t, 1, ignored(t, h.reg, string(r)), 0, "reason %s counted once", r)
	}
}

// TestStreamRefusals: streams that cannot become a call are closed with a
// code and start no session.
func TestStreamRefusals(t *testing.T) {
	t.Run("no start in time", func(t *testing.T) {
		h := newHarness(t, reply("Hi."), nil, func(s *setup) { s.tel.StartTimeout = 100 * time.Millisecond })
		p := h.dial(h.signedWebhook())
		assert.Equal(t, websocket.StatusCode(mediastream.CloseNoStart), p.closeCode())
		assert.Zero(t, h.mgr.Count())
	})
	t.Run("forged token", func(t *testing.T) {
		h := newHarness(t, reply("Hi."), nil, nil)
		tw := h.signedWebhook()
		for i := range tw.Stream.Params {
			if tw.Stream.Params[i].Name == "to" {
				tw.Stream.Params[i].Value = "+15550000000" // another number's settings
			}
		}
		p := h.dial(tw)
		p.start(tw)
		assert.Equal(t, websocket.StatusCode(mediastream.ClosePolicyViolation), p.closeCode())
		assert.Zero(t, h.mgr.Count())
		assert.InDelta(t, 1, ignored(t, h.reg, string(mediastream.ReasonBadToken)), 0)
	})
	t.Run("expired token", func(t *testing.T) {
		h := newHarness(t, reply("Hi."), nil, nil)
		tw := h.signedWebhook()
		h.clock.Advance(2 * time.Minute)
		p := h.dial(tw)
		p.start(tw)
		assert.Equal(t, websocket.StatusCode(mediastream.ClosePolicyViolation), p.closeCode())
	})
	t.Run("flood", func(t *testing.T) {
		h := newHarness(t, reply("Hi."), nil, func(s *setup) { s.tel.MaxMessagesPerSecond = 20 })
		p := h.call()
		for range 40 {
			if p.c.Write(t.Context(), websocket.MessageText, []byte(twMedia(streamSID, "//8="))) != nil {
				break
			}
		}
		assert.Equal(t, websocket.StatusPolicyViolation, p.closeCode())
		require.Eventually(t, func() bool { return h.mgr.Count() == 0 }, waitFor, time.Millisecond)
	})
}

func twMedia(sid, payload string) string {
	return `{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"` + payload + `"},"streamSid":"` + sid + `"}`
}

func lastUser(llm *sessiontest.LLM) string {
	reqs := llm.Requests()
	if len(reqs) == 0 {
		return ""
	}
	msgs := reqs[len(reqs)-1].Messages
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == sdk.RoleUser {
			return msgs[i].Content
		}
	}
	return ""
}
