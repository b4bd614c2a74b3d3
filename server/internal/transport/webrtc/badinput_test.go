package webrtc_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rtc "github.com/parleyhq/parley/server/internal/transport/webrtc"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// validOffer is a real pion offer (audio with Opus and a data channel).
func validOffer(t testing.TB) string {
	t.Helper()
	sock, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	pc, err := clientAPI(t, sock).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	defer func() { _ = pc.Close(); _ = sock.Close() }()
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio)
	require.NoError(t, err)
	_, err = pc.CreateDataChannel("events", nil)
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	return pc.LocalDescription().SDP
}

const sdpHead = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

// errBody decodes {"error":{"code","message","details"}}.
func errBody(t *testing.T, resp *http.Response) (string, string, map[string]string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Details map[string]string `json:"details"`
		} `json:"error"`
	}
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.NotNil(t, body.Error.Details)
	return body.Error.Code, body.Error.Message, body.Error.Details
}

func TestBadOffers(t *testing.T) {
	hs := newHarness(t, reply("Hi."), nil, func(s *setup) { s.rtc.MaxOfferBytes = 8 << 10 })
	good := validOffer(t)
	cases := []struct {
		name, ctype, body string
		status            int
		code              string
		inMessage         string
		details           map[string]string
	}{
		{name: "garbage", ctype: "application/sdp", body: "hello, I am not SDP", status: 400, code: "invalid_sdp", inMessage: "SDP"},
		{name: "empty", ctype: "application/sdp", body: "", status: 400, code: "invalid_sdp"},
		{name: "truncated", ctype: "application/sdp", body: good[:len(good)/3], status: 400, code: "invalid_sdp"},
		{name: "no audio", ctype: "application/sdp",
			body:   sdpHead + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n",
			status: 422, code: "unsupported_offer", details: map[string]string{"missing": "audio m-line"}},
		{name: "no opus", ctype: "application/sdp",
			body:   sdpHead + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:0 PCMU/8000\r\n",
			status: 422, code: "unsupported_offer", details: map[string]string{"missing": "opus"}},
		{name: "too large", ctype: "application/sdp", body: good + strings.Repeat("a=x-pad:0123456789\r\n", 1000),
			status: 413, code: "offer_too_large"},
		{name: "wrong media type", ctype: "text/plain", body: good, status: 415, code: "unsupported_media_type"},
		{name: "json not an offer", ctype: "application/json", body: `{"type":"answer","sdp":"v=0"}`, status: 400, code: "invalid_sdp"},
		{name: "broken json", ctype: "application/json", body: `{"type":`, status: 400, code: "invalid_sdp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := hs.do(http.MethodPost, rtc.OfferPath, tc.ctype, tc.body)
			assert.Equal(t, tc.status, resp.StatusCode)
			code, msg, details := errBody(t, resp)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, msg, tc.inMessage)
			for k, v := range tc.details {
				assert.Equal(t, v, details[k])
			}
		})
	}
	assert.Zero(t, hs.mgr.Count())
	// The server keeps serving.
	c := hs.dial(clientOpts{})
	c.sendJSON(map[string]any{"type": "ping", "id": "still here"})
	assert.Equal(t, "still here", c.expect("pong").str("id"))
}

func TestSessionLimit(t *testing.T) {
	hs := newHarness(t, reply("Hi."), nil, func(s *setup) { s.session.MaxSessions = 1 })
	hs.dial(clientOpts{})
	resp := hs.do(http.MethodPost, rtc.OfferPath, "application/sdp", validOffer(t))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	code, _, _ := errBody(t, resp)
	assert.Equal(t, "session_limit", code)
}

func TestTrickle(t *testing.T) {
	hs := newHarness(t, reply("Hi."), nil, nil)
	c := hs.dial(clientOpts{})
	path := rtc.SessionPathPrefix + c.id
	frag := "a=ice-ufrag:x\r\na=ice-pwd:y\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\na=end-of-candidates\r\n"
	cases := []struct {
		name, path, ctype, body string
		status                  int
	}{
		{name: "candidate added", path: path, ctype: "application/trickle-ice-sdpfrag", body: frag, status: 204},
		{name: "malformed candidate", path: path, ctype: "application/trickle-ice-sdpfrag", body: "a=candidate:1 1 udp\r\n", status: 400},
		{name: "wrong media type", path: path, ctype: "application/sdp", body: frag, status: 415},
		{name: "unknown session", path: rtc.SessionPathPrefix + "sess_nope", ctype: "application/trickle-ice-sdpfrag", body: frag, status: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := hs.do(http.MethodPatch, tc.path, tc.ctype, tc.body)
			assert.Equal(t, tc.status, resp.StatusCode)
		})
	}
	c.sendJSON(map[string]any{"type": "ping", "id": "after trickle"})
	assert.Equal(t, "after trickle", c.expect("pong").str("id"))
}

// FuzzOffer throws arbitrary bodies at the offer endpoint: every answer is
// one of the documented statuses and the server keeps serving.
func FuzzOffer(f *testing.F) {
	good := validOffer(f)
	f.Add("application/sdp", good)
	f.Add("application/sdp", good[:len(good)/2])
	f.Add("application/sdp", sdpHead+"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n")
	f.Add("application/sdp", sdpHead+"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")
	f.Add("application/json", `{"type":"offer","sdp":"v=0\r\n"}`)
	f.Add("application/sdp", "v=0\r\nm=audio 0 RTP/AVP 111\r\n")
	f.Add("text/plain", "x")
	hs := newHarness(f, reply("Hi."), nil, func(s *setup) { s.session.MaxSessions = 2 })
	allowed := map[int]bool{201: true, 400: true, 413: true, 415: true, 422: true, 503: true}
	f.Fuzz(func(t *testing.T, ctype, body string) {
		if strings.ContainsFunc(ctype, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Skip("not a sendable header value")
		}
		resp, err := http.Post(hs.srv.URL+rtc.OfferPath, ctype, strings.NewReader(body)) //nolint:noctx // test
		require.NoError(t, err)
		defer resp.Body.Close()
		require.True(t, allowed[resp.StatusCode], "status %d", resp.StatusCode)
		if resp.StatusCode == http.StatusCreated {
			req, err := http.NewRequest(http.MethodDelete, hs.srv.URL+resp.Header.Get("Location"), nil) //nolint:noctx // test
			require.NoError(t, err)
			del, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = del.Body.Close()
			require.Equal(t, http.StatusNoContent, del.StatusCode)
		}
	})
}
