package webrtc_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	rtc "github.com/parleyhq/parley/server/internal/transport/webrtc"
)

// gone waits until the handler and the manager have forgotten every session.
func (hs *harness) gone() {
	hs.t.Helper()
	require.Eventually(hs.t, func() bool { return hs.h.Count() == 0 && hs.mgr.Count() == 0 }, waitFor, 10*time.Millisecond)
}

func (hs *harness) do(method, path, ctype, body string) *http.Response {
	hs.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, hs.srv.URL+path, stringsReader(body))
	require.NoError(hs.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(hs.t, err)
	hs.t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// TestSessionEnds covers every way a session ends: each releases the
// session, the peer connection and its goroutines (goleak checks the rest).
func TestSessionEnds(t *testing.T) {
	cases := []struct {
		name string
		end  func(hs *harness, c *client)
	}{
		{name: "delete", end: func(hs *harness, c *client) {
			resp := hs.do(http.MethodDelete, rtc.SessionPathPrefix+c.id, "", "")
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
			assert.Equal(t, http.StatusNotFound, hs.do(http.MethodDelete, rtc.SessionPathPrefix+c.id, "", "").StatusCode)
		}},
		{name: "peer closes", end: func(_ *harness, c *client) { c.close() }},
		{name: "peer vanishes", end: func(_ *harness, c *client) {
			// The client's socket goes away without a goodbye: only ICE
			// consent (1 s disconnected, 2 s failed here) notices.
			require.NoError(t, c.sock.Close())
		}},
		{name: "server drain", end: func(hs *harness, _ *client) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			require.NoError(t, hs.mgr.Drain(ctx))
		}},
		{name: "handler close", end: func(hs *harness, _ *client) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			require.NoError(t, hs.h.Close(ctx))
		}},
		{name: "session ends itself", end: func(hs *harness, c *client) {
			s, ok := hs.mgr.Lookup(session.SessionID(c.id))
			require.True(t, ok)
			s.Close(session.EndNormal, "test")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, reply("Hi."), nil, nil)
			c := hs.dial(clientOpts{})
			require.Equal(t, 1, hs.h.Count())
			tc.end(hs, c)
			hs.gone()
			if tc.name == "delete" || tc.name == "server drain" || tc.name == "handler close" {
				// The server hung up: the client sees its peer connection close.
				require.Eventually(t, func() bool {
					s := c.pc.ConnectionState()
					return s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed ||
						s == webrtc.PeerConnectionStateDisconnected
				}, waitFor, 10*time.Millisecond)
			}
		})
	}
}

// TestAfterClose: a closed handler refuses offers with 503 draining.
func TestAfterClose(t *testing.T) {
	hs := newHarness(t, reply("Hi."), nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, hs.h.Close(ctx))
	resp := hs.do(http.MethodPost, rtc.OfferPath, "application/sdp", validOffer(t))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
}

// TestNetworkConfig: the NAT 1:1 address is announced in the answer, and
// all peers can share one UDP mux port.
func TestNetworkConfig(t *testing.T) {
	t.Run("nat 1:1", func(t *testing.T) {
		hs := newHarness(t, reply("Hi."), nil, func(s *setup) { s.rtc.NAT1To1IPs = []string{"203.0.113.7"} })
		resp := hs.do(http.MethodPost, rtc.OfferPath, "application/sdp", validOffer(t))
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		answer, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Contains(t, string(answer), " 203.0.113.7 ")
		assert.NotContains(t, string(answer), " 127.0.0.1 ")
	})
	t.Run("udp mux port", func(t *testing.T) {
		probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
		require.NoError(t, err)
		port := probe.LocalAddr().(*net.UDPAddr).Port
		require.NoError(t, probe.Close())
		hs := newHarness(t, reply("Hi."), nil, func(s *setup) { s.rtc.UDPMuxPort = port })
		for i := range 2 {
			c := hs.dial(clientOpts{})
			c.sendJSON(map[string]any{"type": "ping", "id": strconv.Itoa(i)})
			assert.Equal(t, strconv.Itoa(i), c.expect(parleyv1.TypePong).str("id"))
		}
		assert.Equal(t, 2, hs.h.Count())
	})
}
