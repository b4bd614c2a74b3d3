package e2e

import (
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientDisconnectMidReply: a client that vanishes while the agent is
// speaking (the TCP connection dropped, no close handshake) ends its
// session — its LLM/TTS work is released — and nothing else: no error is
// logged, the plugins keep running and the next client is answered.
func TestClientDisconnectMidReply(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServer(t, bins.get(t))
	ctx := t.Context()
	open := func() *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws://"+srv.addr+"/ws/voice", &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
		require.NoError(t, err)
		c.SetReadLimit(1 << 20)
		_, _, err = c.Read(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000}`)))
		return c
	}
	for round := range 3 {
		c := open()
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"input.text","text":"what time is it"}`)))
		frames := 0
		for frames < 3 {
			typ, _, err := c.Read(ctx)
			require.NoError(t, err, "round %d", round)
			if typ == websocket.MessageBinary {
				frames++
			}
		}
		require.NoError(t, c.CloseNow(), "drop the connection mid-reply")
		require.Eventually(t, func() bool { return activeSessions(ctx, srv.addr) == 0 }, turnLimit, 20*time.Millisecond,
			"round %d: the vanished client's session ends", round)
	}
	c := open()
	defer func() { _ = c.CloseNow() }()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"input.text","text":"what time is it"}`)))
	tr := readTurn(ctx, t, c)
	_, done := tr.first("response.done")
	assert.True(t, done, "the next client is answered")
	for name, st := range pluginStatus(t, srv.addr) {
		assert.Equal(t, "running", st.State, "%s keeps running", name)
	}
	assert.NotContains(t, srv.logs.String(), `"level":"ERROR"`, "nothing is logged at Error")
}
