package webrtc_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

// envRequireTURN makes a missing turnserver a failure instead of a skip
// (make test sets it).
const envRequireTURN = "E2E_REQUIRE_TURN"

// turnStartTimeout bounds how long turnserver takes to answer STUN.
const turnStartTimeout = 10 * time.Second

// turnServer is a real coturn turnserver on a loopback port.
type turnServer struct {
	addr   string
	secret string
	out    *syncBuffer
}

// startTURN runs turnserver on 127.0.0.1 with a random shared secret
// (use-auth-secret: TURN REST API credentials only) and kills it when the
// test ends. It skips when turnserver is missing unless E2E_REQUIRE_TURN
// is set.
func startTURN(t *testing.T) turnServer {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv(envRequireTURN) != "" {
			t.Fatalf("turnserver is not installed (Debian package coturn; make deps-test) and %s is set: %v", envRequireTURN, err)
		}
		t.Skipf("turnserver is not installed (Debian package coturn; make deps-test): skipping the TURN relay test (set %s=1 to fail instead)", envRequireTURN)
	}
	raw := make([]byte, 16)
	_, err = rand.Read(raw)
	require.NoError(t, err)
	ts := turnServer{secret: hex.EncodeToString(raw), out: &syncBuffer{}}
	port := freeUDPPort(t)
	ts.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dir := t.TempDir()
	cmd := exec.Command(bin, //nolint:gosec // the test's own turnserver.
		"-n", // no configuration file: only these flags
		"--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port),
		"--use-auth-secret", "--static-auth-secret="+ts.secret, "--realm=parley.test",
		"--no-tls", "--no-dtls", "--no-tcp-relay", "--no-cli", "--allow-loopback-peers", "--no-multicast-peers",
		"--fingerprint", "--pidfile="+filepath.Join(dir, "turnserver.pid"), "--userdb="+filepath.Join(dir, "turndb"),
		"--log-file=stdout", "--simple-log", "--verbose",
	)
	cmd.Stdout, cmd.Stderr = ts.out, ts.out
	// Killed with the test binary even if it dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(turnStartTimeout)
	for !stunAnswers(ts.addr) {
		select {
		case <-exited:
			t.Fatalf("turnserver exited at start; its output:\n%s", ts.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("turnserver did not answer STUN on %s within %s; its output:\n%s", ts.addr, turnStartTimeout, ts.out.String())
		}
	}
	return ts
}

// freeUDPPort is a loopback UDP port free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	port := c.LocalAddr().(*net.UDPAddr).Port
	require.NoError(t, c.Close())
	return port
}

// stunAnswers sends a STUN Binding request (RFC 8489: type 0x0001, magic
// cookie, a transaction id) and reports whether a Binding success response
// with the same transaction id came back within a short wait.
func stunAnswers(addr string) bool {
	const (
		headerLen       = 20
		bindingRequest  = 0x0001
		bindingSuccess  = 0x0101
		magicCookie     = 0x2112A442
		answerTimeout   = 200 * time.Millisecond
		transactionFrom = 8
	)
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	req := make([]byte, headerLen)
	binary.BigEndian.PutUint16(req[0:], bindingRequest)
	binary.BigEndian.PutUint32(req[4:], magicCookie)
	copy(req[transactionFrom:], "parley-ready")
	if err := c.SetDeadline(time.Now().Add(answerTimeout)); err != nil {
		return false
	}
	if _, err := c.Write(req); err != nil {
		return false
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	return err == nil && n >= headerLen && binary.BigEndian.Uint16(buf) == bindingSuccess &&
		bytes.Equal(buf[transactionFrom:headerLen], req[transactionFrom:headerLen])
}

// relayClientAPI is a client pion API for relay-only tests: UDP4, no
// mDNS, loopback allowed; TURN allocations use their own sockets.
func relayClientAPI(t testing.TB) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	require.NoError(t, me.RegisterDefaultCodecs())
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}

// relayOffer gathers a relay-only offer with conf and returns its SDP.
func relayOffer(t *testing.T, conf webrtc.Configuration) string {
	t.Helper()
	pc, err := relayClientAPI(t).NewPeerConnection(conf)
	require.NoError(t, err)
	defer func() { _ = pc.Close() }()
	_, err = pc.CreateDataChannel("events", nil)
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	select {
	case <-gathered:
	case <-time.After(waitFor):
		t.Fatal("ICE gathering did not complete")
	}
	return pc.LocalDescription().SDP
}

// TestTURNRelay: a real coturn on loopback with a shared secret; Parley's
// handler configured with the hmac entry; a pion client allowed only relay
// candidates, using the credentials GET /v1/webrtc/ice-servers issued. The
// call connects through the relay, audio flows both ways and the session
// answers; the selected candidate pair is a relay one; Parley's own peer
// allocated a relay too; credentials signed with another secret get no
// relay; the secret is in no log line.
func TestTURNRelay(t *testing.T) {
	ts := startTURN(t)
	const key = "relay-test-key"
	var logs syncBuffer
	const relayAnswer = "Loud and clear through the relay."
	hs := newHarness(t, reply(relayAnswer), []string{"hello can you hear me"}, func(s *setup) {
		s.rtc.ICEServers = []config.ICEServer{{
			URLs:           []string{"turn:" + ts.addr + "?transport=udp"},
			CredentialType: config.ICECredentialHMAC, SecretEnv: "TURN_SECRET", Secret: []byte(ts.secret), TTL: 10 * time.Minute,
		}}
		s.httpapi = &httpapi.Options{Auth: config.Auth{APIKeys: []string{key}}}
		s.logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	hs.bearer = key

	list := hs.iceList(key)
	require.Len(t, list.ICEServers, 1)
	issued := list.ICEServers[0]
	require.NotEmpty(t, issued.Username)
	require.NotEmpty(t, issued.Credential)
	conf := webrtc.Configuration{
		ICETransportPolicy: webrtc.ICETransportPolicyRelay,
		ICEServers:         []webrtc.ICEServer{{URLs: issued.URLs, Username: issued.Username, Credential: issued.Credential}},
	}

	t.Run("turnserver refuses credentials of another secret", func(t *testing.T) {
		require.Contains(t, relayOffer(t, conf), "typ relay", "control: the issued credentials get a relay")
		forged := conf
		forged.ICEServers = []webrtc.ICEServer{{
			URLs: issued.URLs, Username: issued.Username, Credential: specTURNPassword("not-"+ts.secret, issued.Username),
		}}
		assert.NotContains(t, relayOffer(t, forged), "typ relay")
	})

	c := hs.dial(clientOpts{relay: &conf})
	assert.Contains(t, c.pc.LocalDescription().SDP, "typ relay")
	assert.NotContains(t, c.pc.LocalDescription().SDP, "typ host", "the client offers relay candidates only")
	assert.Contains(t, c.pc.RemoteDescription().SDP, "typ relay", "Parley's peer allocated a relay with fresh credentials")

	pair, err := c.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	require.NoError(t, err)
	require.NotNil(t, pair)
	assert.Equal(t, webrtc.ICECandidateTypeRelay, pair.Local.Typ, "selected pair %s", pair)
	assert.Equal(t, "127.0.0.1", pair.Local.Address, "the relayed address is turnserver's relay-ip")
	assert.True(t, selectedLocalIsRelay(c.pc), "stats: the nominated, succeeded pair's local candidate is a relay")

	// Audio in: the client's speech reaches the session through TURN and is
	// heard (speech detected, transcribed); audio out: the answer comes back
	// the same way.
	c.stream(utterance(t, "Hello, can you hear me?"))
	evs := c.until(parleyv1.TypeResponseDone)
	types := map[string]bool{}
	var text strings.Builder
	for _, ev := range evs {
		types[ev.str("type")] = true
		if ev.str("type") == parleyv1.TypeTextDelta {
			text.WriteString(ev.str("delta"))
		}
	}
	for _, want := range []string{parleyv1.TypeSpeechStarted, parleyv1.TypeSpeechStopped, parleyv1.TypeTranscriptFinal, parleyv1.TypeAudioStarted} {
		assert.True(t, types[want], "missing %s in %v", want, evs)
	}
	assert.Equal(t, relayAnswer, text.String())
	assert.Positive(t, hs.h.Stats().PacketsIn, "RTP from the client arrived")
	// The fake TTS speaks 100 ms per word: that much audio must arrive.
	want := words(relayAnswer) * int(100*time.Millisecond/frameDur)
	require.Eventually(t, func() bool { n, _ := c.received(); return n >= want }, waitFor, 10*time.Millisecond)
	_, pcm := c.received()
	assert.Greater(t, audio.DBFS(pcm), -30.0, "agent audio is not silent")

	for _, s := range []string{ts.secret, issued.Credential} {
		assert.NotContains(t, logs.String(), s, "no secret or issued credential in Parley's log")
	}
}

// selectedLocalIsRelay reads the peer's stats: the nominated candidate
// pair that succeeded has a local candidate of type relay.
func selectedLocalIsRelay(pc *webrtc.PeerConnection) bool {
	stats := pc.GetStats()
	for _, s := range stats {
		p, ok := s.(webrtc.ICECandidatePairStats)
		if !ok || !p.Nominated || p.State != webrtc.StatsICECandidatePairStateSucceeded {
			continue
		}
		local, ok := stats[p.LocalCandidateID].(webrtc.ICECandidateStats)
		if ok && local.CandidateType == webrtc.ICECandidateTypeRelay {
			return true
		}
	}
	return false
}
