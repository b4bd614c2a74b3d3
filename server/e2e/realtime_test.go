package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/tlsconf/tlstest"
)

// The official OpenAI Node SDK, installed by `make node-deps` into
// bin/node (git-ignored) at the version the Makefile pins.
const (
	nodeModulesDir = "bin/node/node_modules"
	// requireNodeEnv makes a missing SDK a failure (make test sets it)
	// instead of a skip.
	requireNodeEnv = "E2E_REQUIRE_OPENAI_SDK"
	realtimeAPIKey = "e2e-realtime-client-key-5d1e"
	// realtimeLimit bounds one SDK scenario; a failure guard.
	realtimeLimit = 2 * time.Minute
)

// rtEvent is one line of the SDK client's output: a server event as the
// SDK delivered it (audio replaced by its size) or a client.* note.
type rtEvent struct {
	Type         string          `json:"type"`
	EventID      string          `json:"event_id"`
	ItemID       string          `json:"item_id"`
	ResponseID   string          `json:"response_id"`
	CallID       string          `json:"call_id"`
	Name         string          `json:"name"`
	Transcript   string          `json:"transcript"`
	DeltaBytes   int             `json:"delta_bytes"`
	AudioEndMs   int             `json:"audio_end_ms"`
	Code         int             `json:"code"`
	Message      string          `json:"message"`
	Error        json.RawMessage `json:"error"`
	Response     *rtResponse     `json:"response"`
	Item         *rtItem         `json:"item"`
	OutputIndex  int             `json:"output_index"`
	ContentIndex int             `json:"content_index"`
}

type rtResponse struct {
	ID            string            `json:"id"`
	Status        string            `json:"status"`
	StatusDetails map[string]string `json:"status_details"`
	Output        []rtItem          `json:"output"`
	Usage         *struct {
		TotalTokens  int `json:"total_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

type rtItem struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Role    string `json:"role"`
	Status  string `json:"status"`
	CallID  string `json:"call_id"`
	Name    string `json:"name"`
	Content []struct {
		Type       string `json:"type"`
		Transcript string `json:"transcript"`
		Text       string `json:"text"`
	} `json:"content"`
}

// realtimeServer runs the real binary on the offline config over TLS with
// an API key; get_current_time is left to the client (a client tool).
type realtimeServer struct {
	srv    *server
	caFile string
	bin    string
}

func startRealtimeServer(t *testing.T) *realtimeServer {
	t.Helper()
	root := repoRoot(t)
	sdkDir := filepath.Join(root, nodeModulesDir)
	if _, err := os.Stat(filepath.Join(sdkDir, "openai", "package.json")); err != nil {
		if os.Getenv(requireNodeEnv) != "" {
			t.Fatalf("the openai npm package is missing from %s: run make node-deps", sdkDir)
		}
		t.Skipf("the openai npm package is not installed (make node-deps): %v", err)
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is needed for the Realtime SDK tests")
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "parley realtime e2e CA")
	cert, key := ca.Server(t).Write(t, dir)
	shipped, err := os.ReadFile(filepath.Join(root, "configs", "parley.yaml"))
	require.NoError(t, err)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	t.Cleanup(client.CloseIdleConnections)
	srv := startServerProbe(t, bins.get(t), []string{string(shipped)}, "https", client,
		"PARLEY_HTTP__TLS__CERT_FILE="+cert, "PARLEY_HTTP__TLS__KEY_FILE="+key,
		"PARLEY_AUTH__API_KEYS="+realtimeAPIKey, "PARLEY_TOOLS__BUILTIN=calculator,end_session")
	return &realtimeServer{srv: srv, caFile: ca.WriteCA(t, dir, "ca.pem"), bin: node}
}

// run runs one scenario of testdata/realtime_client.cjs and returns the
// events it saw.
func (rs *realtimeServer) run(t *testing.T, scenario string, files ...string) []rtEvent {
	t.Helper()
	root := repoRoot(t)
	ctx := t.Context()
	var args []string
	if scenario == "browser" {
		args = append(args, "--experimental-websocket", "--no-warnings")
	}
	args = append(args, filepath.Join(root, "server", "e2e", "testdata", "realtime_client.cjs"), scenario)
	args = append(args, files...)
	cmd := exec.CommandContext(ctx, rs.bin, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"NODE_PATH=" + filepath.Join(root, nodeModulesDir),
		"NODE_EXTRA_CA_CERTS=" + rs.caFile,
		"PARLEY_BASE_URL=https://" + rs.srv.addr + "/v1",
		"OPENAI_API_KEY=" + realtimeAPIKey,
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = realtimeLimit
	out, err := cmd.Output()
	var evs []rtEvent
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var ev rtEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), "line %s", sc.Text())
		evs = append(evs, ev)
	}
	require.NoError(t, err, "node client failed: %s\nevents: %v", stderr.String(), typesOf(evs))
	for _, ev := range evs {
		require.NotContains(t, []string{"client.timeout", "client.fatal", "client.sdk_error"}, ev.Type, "%s %s %s", ev.Message, ev.Error, typesOf(evs))
	}
	// Every server event has a unique event id.
	ids := map[string]bool{}
	for _, ev := range evs {
		if strings.HasPrefix(ev.Type, "client.") {
			continue
		}
		require.NotEmpty(t, ev.EventID, ev.Type)
		require.False(t, ids[ev.EventID], "event id %s reused", ev.EventID)
		ids[ev.EventID] = true
	}
	return evs
}

// typesOf lists the server events' types, runs of audio deltas folded
// and the client's own notes left out.
func typesOf(evs []rtEvent) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		if strings.HasPrefix(e.Type, "client.") {
			continue
		}
		if e.Type == "response.output_audio.delta" && len(out) > 0 && out[len(out)-1] == e.Type {
			continue
		}
		out = append(out, e.Type)
	}
	return out
}

func responsesOf(evs []rtEvent) []rtResponse {
	var out []rtResponse
	for _, e := range evs {
		if e.Type == "response.done" {
			out = append(out, *e.Response)
		}
	}
	return out
}

func audioBytes(evs []rtEvent, responseID string) int {
	n := 0
	for _, e := range evs {
		if e.Type == "response.output_audio.delta" && e.ResponseID == responseID {
			n += e.DeltaBytes
		}
	}
	return n
}

// pcm24k writes flite's rendering of text as raw 24 kHz PCM16LE.
func pcm24k(t *testing.T, text string) string {
	t.Helper()
	samples := speech(t, text)
	r, err := audio.NewResampler(audio.SampleRate, 24000)
	require.NoError(t, err)
	out := r.Flush(r.Process(nil, samples))
	path := filepath.Join(t.TempDir(), "speech.pcm")
	require.NoError(t, os.WriteFile(path, audio.EncodePCM16LE(nil, out), 0o600))
	return path
}

// TestRealtimeSDK: the official openai npm package's Realtime WebSocket
// client (OpenAIRealtimeWS, baseURL pointed at Parley, wss:// with a
// throwaway CA) holds four conversations with the real binary and the
// offline plugins (pocketsphinx, llm-rules, flite).
func TestRealtimeSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	rs := startRealtimeServer(t)

	t.Run("text turn", func(t *testing.T) {
		evs := rs.run(t, "text")
		order := typesOf(evs)
		require.Equal(t, []string{"session.created", "session.updated", "conversation.item.added", "conversation.item.done"}, order[:4])
		resp := responsesOf(evs)
		require.Len(t, resp, 1)
		assert.Equal(t, "completed", resp[0].Status)
		require.Len(t, resp[0].Output, 1)
		msg := resp[0].Output[0]
		assert.Equal(t, "assistant", msg.Role)
		require.Len(t, msg.Content, 1)
		assert.Equal(t, "output_audio", msg.Content[0].Type)
		assert.NotEmpty(t, msg.Content[0].Transcript, "llm-rules greets")
		assert.Positive(t, audioBytes(evs, resp[0].ID), "flite audio as output_audio.delta")
		require.NotNil(t, resp[0].Usage, "llm-rules reports tokens (words)")
		assert.Equal(t, len(strings.Fields(msg.Content[0].Transcript)), resp[0].Usage.OutputTokens)
		assert.Equal(t, []string{
			"response.created", "response.output_item.added", "conversation.item.added", "response.content_part.added",
		}, order[4:8])
		assert.Equal(t, []string{
			"response.output_audio.done", "response.output_audio_transcript.done", "response.content_part.done",
			"response.output_item.done", "conversation.item.done", "response.done",
		}, order[len(order)-6:])
	})

	t.Run("browser client with the key in the subprotocol", func(t *testing.T) {
		evs := rs.run(t, "browser")
		require.Equal(t, "client.opened", evs[0].Type)
		assert.Equal(t, "realtime", evs[0].Message, "the subprotocol Parley selected")
		resp := responsesOf(evs)
		require.Len(t, resp, 1)
		assert.Equal(t, "completed", resp[0].Status)
		assert.NotEmpty(t, resp[0].Output[0].Content[0].Transcript)
	})

	t.Run("audio turn with server VAD", func(t *testing.T) {
		evs := rs.run(t, "audio", pcm24k(t, "what is seven times six"))
		order := typesOf(evs)
		for _, want := range []string{
			"input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
			"conversation.item.input_audio_transcription.completed", "response.created", "response.done",
		} {
			require.Contains(t, order, want)
		}
		assert.Less(t, slices.Index(order, "input_audio_buffer.speech_stopped"), slices.Index(order, "input_audio_buffer.committed"))
		assert.Less(t, slices.Index(order, "conversation.item.input_audio_transcription.completed"), slices.Index(order, "response.created"))
		var userItem, transcript string
		for _, e := range evs {
			switch e.Type {
			case "input_audio_buffer.speech_started":
				userItem = e.ItemID
			case "conversation.item.input_audio_transcription.completed":
				assert.Equal(t, userItem, e.ItemID)
				transcript = e.Transcript
			}
		}
		// pocketsphinx hears flite's 24 kHz rendering (resampled to 16 kHz by
		// the session) well, not always word for word ("one is seven
		// times six" was seen): the arithmetic is what matters here.
		assert.Contains(t, transcript, "seven times six", "pocketsphinx heard flite")
		resp := responsesOf(evs)
		require.Len(t, resp, 1)
		assert.Equal(t, "completed", resp[0].Status)
		assert.Contains(t, resp[0].Output[0].Content[0].Transcript, "42", "the calculator server tool ran")
	})

	t.Run("push to talk: turn_detection null, commit, response.create", func(t *testing.T) {
		evs := rs.run(t, "ptt", pcm24k(t, "what is seven times six"))
		order := typesOf(evs)
		assert.NotContains(t, order, "input_audio_buffer.speech_started", "no VAD turns")
		committed := slices.Index(order, "input_audio_buffer.committed")
		require.GreaterOrEqual(t, committed, 0, "%v", order)
		assert.Less(t, committed, slices.Index(order, "conversation.item.input_audio_transcription.completed"))
		assert.Less(t, slices.Index(order, "conversation.item.input_audio_transcription.completed"), slices.Index(order, "response.created"),
			"the response waits for the committed transcript")
		resp := responsesOf(evs)
		require.Len(t, resp, 1)
		assert.Equal(t, "completed", resp[0].Status)
		assert.Contains(t, resp[0].Output[0].Content[0].Transcript, "42")
	})

	t.Run("function call round trip", func(t *testing.T) {
		evs := rs.run(t, "function")
		resp := responsesOf(evs)
		require.Len(t, resp, 2)
		assert.Equal(t, "completed", resp[0].Status)
		require.Len(t, resp[0].Output, 1)
		call := resp[0].Output[0]
		assert.Equal(t, "function_call", call.Type)
		assert.Equal(t, "get_current_time", call.Name)
		assert.NotEmpty(t, call.CallID)
		assert.NotEqual(t, resp[0].ID, resp[1].ID)
		assert.Equal(t, "completed", resp[1].Status)
		assert.Equal(t, "It is 3:04 PM.", resp[1].Output[0].Content[0].Transcript, "llm-rules read the client's function_call_output")
		var args []rtEvent
		for _, e := range evs {
			if e.Type == "response.function_call_arguments.done" {
				args = append(args, e)
			}
		}
		require.Len(t, args, 1)
		assert.Equal(t, call.CallID, args[0].CallID)
	})

	t.Run("barge-in then truncate", func(t *testing.T) {
		evs := rs.run(t, "bargein", pcm24k(t, "please stop talking"))
		resp := responsesOf(evs)
		require.Len(t, resp, 2)
		first := resp[0]
		assert.Equal(t, "cancelled", first.Status)
		assert.Contains(t, []string{"turn_detected", "client_cancelled"}, first.StatusDetails["reason"])
		assert.Equal(t, "incomplete", first.Output[0].Status)
		order := typesOf(evs)
		truncated := slices.Index(order, "conversation.item.truncated")
		require.GreaterOrEqual(t, truncated, 0, "%v", order)
		assert.Less(t, slices.Index(order, "input_audio_buffer.speech_started"), truncated)
		for _, e := range evs {
			if e.Type == "conversation.item.truncated" {
				assert.Equal(t, first.Output[0].ID, e.ItemID)
				assert.Equal(t, 800, e.AudioEndMs)
			}
		}
		// No audio of the cancelled response after its response.done.
		done := false
		for _, e := range evs {
			if e.Type == "response.done" && e.Response.ID == first.ID {
				done = true
			}
			if done && e.Type == "response.output_audio.delta" {
				assert.NotEqual(t, first.ID, e.ResponseID, "audio after the end")
			}
		}
		assert.Equal(t, "completed", resp[1].Status, "the interrupting speech was answered")
	})
}
