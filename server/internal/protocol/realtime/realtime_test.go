package realtime_test

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/protocol/realtime"
	"github.com/parleyhq/parley/server/internal/protocol/wsclose"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/tools"
)

// wire records the events a Conn sends.
type wire struct {
	mu     sync.Mutex
	events []map[string]any
	closed wsclose.Code
}

func (w *wire) SendText(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, m)
	return nil
}

func (w *wire) Close(code wsclose.Code, _ string) { w.closed = code }

// take returns the events sent since the last take.
func (w *wire) take() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.events
	w.events = nil
	return out
}

func types(evs []map[string]any) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e["type"].(string))
	}
	return out
}

// harness checks, for every event sent, that event ids are unique.
type harness struct {
	t    *testing.T
	w    *wire
	c    *realtime.Conn
	seen map[string]bool
	all  []map[string]any
}

func newHarness(t *testing.T) *harness {
	w := &wire{}
	h := &harness{t: t, w: w, c: realtime.NewConn(w, "gpt-realtime"), seen: map[string]bool{}}
	h.event(session.Established{SessionID: "abc", InputRate: realtime.InputRate, OutputRate: realtime.OutputRate})
	evs := h.take()
	require.Equal(t, []string{"session.created"}, types(evs))
	return h
}

func (h *harness) take() []map[string]any {
	h.t.Helper()
	evs := h.w.take()
	for _, e := range evs {
		id, _ := e["event_id"].(string)
		require.NotEmpty(h.t, id, "every server event has an event_id: %v", e)
		require.False(h.t, h.seen[id], "event id %s reused", id)
		h.seen[id] = true
	}
	h.all = append(h.all, evs...)
	return evs
}

func (h *harness) event(ev session.Event) { require.NoError(h.t, h.c.Event(ev)) }

func (h *harness) client(js string) realtime.Inbound { return h.c.Handle([]byte(js)) }

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		if i, err := strconv.Atoi(p); err == nil {
			v = v.([]any)[i]
			continue
		}
		v = v.(map[string]any)[p]
	}
	s, _ := v.(string)
	return s
}

func num(m map[string]any, key string) float64 { f, _ := m[key].(float64); return f }

func TestSessionCreatedAndUpdated(t *testing.T) {
	h := newHarness(t)
	created := h.all[0]
	assert.Equal(t, "sess_abc", str(created, "session", "id"))
	assert.Equal(t, "realtime", str(created, "session", "type"))
	assert.Equal(t, "gpt-realtime", str(created, "session", "model"))
	assert.Equal(t, "audio/pcm", str(created, "session", "audio", "input", "format", "type"))

	in := h.client(`{"type":"session.update","event_id":"c1","session":{"type":"realtime","instructions":"Be brief.",
		"audio":{"input":{"format":{"type":"audio/pcmu"},"transcription":{"model":"whisper-1"},
		"turn_detection":{"type":"server_vad","threshold":0.5,"silence_duration_ms":500}},
		"output":{"format":{"type":"audio/pcma"},"voice":"slt"}},
		"tools":[{"type":"function","name":"get_weather","description":"Weather","parameters":{"type":"object"}}],"tool_choice":"auto"}}`)
	require.Len(t, in.Commands, 1)
	u := in.Commands[0].(session.Update)
	assert.Equal(t, "Be brief.", *u.SystemPrompt)
	assert.Equal(t, 8000, *u.InputRate)
	assert.Equal(t, 8000, *u.OutputRate)
	assert.Equal(t, "slt", *u.Voice)
	assert.Equal(t, 500*time.Millisecond, *u.VAD.MinSilence)
	assert.InDelta(t, 12.0, *u.VAD.ThresholdDB, 1e-9)
	require.Len(t, u.Tools, 1)
	assert.Equal(t, tools.Definition{Name: "get_weather", Description: "Weather", Parameters: json.RawMessage(`{"type":"object"}`)}, u.Tools[0])
	assert.Empty(t, h.take(), "session.updated waits for the session")

	h.event(session.Updated{InputRate: 8000, OutputRate: 8000, Voice: "slt", MinSilence: 500 * time.Millisecond, ThresholdDB: 12})
	in = h.client(`{"type":"session.update","session":{"audio":{"output":{"voice":"alloy"}}}}`)
	assert.Nil(t, in.Commands[0].(session.Update).Voice, "an OpenAI voice name keeps the session's voice")
	evs := h.take()
	require.Equal(t, []string{"session.updated"}, types(evs))
	s := evs[0]["session"].(map[string]any)
	td := s["audio"].(map[string]any)["input"].(map[string]any)["turn_detection"].(map[string]any)
	assert.Equal(t, map[string]any{"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500.0, "create_response": true, "interrupt_response": true}, td)
	assert.Equal(t, "audio/pcmu", str(s, "audio", "input", "format", "type"))
	assert.Equal(t, "get_weather", str(s, "tools", "0", "name"))

	// G.711 both ways: 160 μ-law codes are 20 ms at 8 kHz.
	in = h.client(`{"type":"input_audio_buffer.append","audio":"` + base64.StdEncoding.EncodeToString(make([]byte, 160)) + `"}`)
	assert.Len(t, in.Audio, 320, "decoded to PCM16")
	h.event(session.ResponseStarted{ResponseID: "r1"})
	require.NoError(t, h.c.Audio(make([]byte, 320)))
	evs = h.take()
	d, err := base64.StdEncoding.DecodeString(str(evs[len(evs)-1], "delta"))
	require.NoError(t, err)
	assert.Len(t, d, 160, "A-law codes out")
}

// TestTextTurnOrder: a created user message, response.create, and the
// events of an audio response in the GA order with consistent ids.
func TestTextTurnOrder(t *testing.T) {
	h := newHarness(t)
	in := h.client(`{"type":"conversation.item.create","event_id":"c1","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]}}`)
	assert.Equal(t, []session.Command{session.AddUserText{Text: "hello"}}, in.Commands)
	evs := h.take()
	require.Equal(t, []string{"conversation.item.added", "conversation.item.done"}, types(evs))
	userID := str(evs[0], "item", "id")
	assert.NotEmpty(t, userID)
	assert.Nil(t, evs[0]["previous_item_id"])

	in = h.client(`{"type":"conversation.item.create","item":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi!"}]}}`)
	assert.Equal(t, []session.Command{session.AddAssistantText{Text: "Hi!"}}, in.Commands)
	evs = h.take()
	assert.Equal(t, userID, str(evs[0], "previous_item_id"))
	userID = str(evs[0], "item", "id") // the reply follows this one now

	in = h.client(`{"type":"response.create","response":{"instructions":"Greet."}}`)
	assert.Equal(t, []session.Command{session.Respond{Instructions: "Greet."}}, in.Commands)

	h.event(session.ResponseStarted{ResponseID: "r1"})
	h.event(session.TextDelta{ResponseID: "r1", Delta: "Hi"})
	h.event(session.AudioStarted{ResponseID: "r1", SampleRate: 24000})
	require.NoError(t, h.c.Audio(make([]byte, 960)))
	h.event(session.TextDelta{ResponseID: "r1", Delta: " there."})
	require.NoError(t, h.c.Audio(make([]byte, 960)))
	h.event(session.AudioMark{ResponseID: "r1", End: 40 * time.Millisecond})
	h.event(session.ResponseDone{ResponseID: "r1", Status: session.StatusCompleted, Text: "Hi there.", Usage: sdk.Usage{InputTokens: 7, OutputTokens: 2}})
	evs = h.take()
	assert.Equal(t, []string{
		"response.created", "response.output_item.added", "conversation.item.added", "response.content_part.added",
		"response.output_audio_transcript.delta", "response.output_audio.delta", "response.output_audio_transcript.delta",
		"response.output_audio.delta", "response.output_audio.done", "response.output_audio_transcript.done",
		"response.content_part.done", "response.output_item.done", "conversation.item.done", "response.done",
	}, types(evs))
	respID := str(evs[0], "response", "id")
	itemID := str(evs[1], "item", "id")
	assert.NotEqual(t, userID, itemID)
	assert.Equal(t, userID, str(evs[2], "previous_item_id"), "the reply follows the last item")
	for _, e := range evs[1:13] {
		if e["response_id"] != nil {
			assert.Equal(t, respID, e["response_id"], e["type"])
		}
		if e["item_id"] != nil {
			assert.Equal(t, itemID, e["item_id"], e["type"])
			assert.Equal(t, 0.0, num(e, "output_index"))
			assert.Equal(t, 0.0, num(e, "content_index"))
		}
	}
	assert.Equal(t, "Hi there.", str(evs[9], "transcript"))
	done := evs[13]["response"].(map[string]any)
	assert.Equal(t, "completed", done["status"])
	assert.Equal(t, respID, done["id"])
	assert.Equal(t, "Hi there.", str(done, "output", "0", "content", "0", "transcript"))
	assert.Equal(t, "output_audio", str(done, "output", "0", "content", "0", "type"))
	assert.Equal(t, map[string]any{
		"total_tokens": 9.0, "input_tokens": 7.0, "output_tokens": 2.0,
		"input_token_details":  map[string]any{"text_tokens": 7.0, "audio_tokens": 0.0},
		"output_token_details": map[string]any{"text_tokens": 2.0, "audio_tokens": 0.0},
	}, done["usage"], "as the plugin reported")

	// The items can be retrieved.
	h.client(`{"type":"conversation.item.retrieve","item_id":"` + itemID + `"}`)
	evs = h.take()
	require.Equal(t, []string{"conversation.item.retrieved"}, types(evs))
	assert.Equal(t, "completed", str(evs[0], "item", "status"))
}

// TestOutOfBand: conversation "none" is an out-of-band response: its
// items are in the response, not in the conversation.
func TestOutOfBand(t *testing.T) {
	h := newHarness(t)
	in := h.client(`{"type":"response.create","response":{"conversation":"none","instructions":"Classify."}}`)
	assert.Equal(t, []session.Command{session.Respond{Instructions: "Classify.", OutOfBand: true}}, in.Commands)
	h.event(session.ResponseStarted{ResponseID: "r1", OutOfBand: true})
	h.event(session.TextDelta{ResponseID: "r1", Delta: "positive"})
	h.event(session.ResponseDone{ResponseID: "r1", Status: session.StatusCompleted})
	evs := h.take()
	order := types(evs)
	assert.NotContains(t, order, "conversation.item.added")
	assert.NotContains(t, order, "conversation.item.done")
	done := evs[len(evs)-1]["response"].(map[string]any)
	assert.Nil(t, done["conversation_id"])
	itemID := str(done, "output", "0", "id")
	h.client(`{"type":"conversation.item.retrieve","item_id":"` + itemID + `"}`)
	assert.Equal(t, "item_not_found", str(h.take()[0], "error", "code"))
}

// TestSpokenTurn: VAD events (a pause within the turn keeps its item), the
// item committed at the end of the turn with its transcript.
func TestSpokenTurn(t *testing.T) {
	h := newHarness(t)
	h.client(`{"type":"session.update","session":{"audio":{"input":{"transcription":{"model":"any"}}}}}`)
	h.event(session.Updated{})
	h.take()
	h.event(session.SpeechStarted{Audio: 400 * time.Millisecond})
	h.event(session.TranscriptPartial{Text: "what"})
	// A pause inside the turn: the same item goes on.
	h.event(session.SpeechStopped{Audio: 900 * time.Millisecond})
	h.event(session.SpeechStarted{Audio: 1100 * time.Millisecond})
	h.event(session.TranscriptPartial{Text: "what time"})
	h.event(session.SpeechStopped{Audio: 1500 * time.Millisecond})
	h.event(session.TurnEnded{Audio: 1750 * time.Millisecond, EndpointDelay: 250 * time.Millisecond, Decision: "complete"})
	h.event(session.TranscriptFinal{Text: "what time is it"})
	h.event(session.ResponseStarted{ResponseID: "r1"})
	evs := h.take()
	assert.Equal(t, []string{
		"input_audio_buffer.speech_started", "conversation.item.input_audio_transcription.delta",
		"conversation.item.input_audio_transcription.delta", "input_audio_buffer.speech_stopped",
		"input_audio_buffer.committed", "conversation.item.added", "conversation.item.input_audio_transcription.completed",
		"conversation.item.done", "response.created",
	}, types(evs))
	id := str(evs[0], "item_id")
	assert.Equal(t, 400.0, num(evs[0], "audio_start_ms"))
	assert.Equal(t, " time", str(evs[2], "delta"))
	assert.Equal(t, 1500.0, num(evs[3], "audio_end_ms"))
	for _, i := range []int{1, 2, 3, 4, 6} {
		assert.Equal(t, id, str(evs[i], "item_id"), evs[i]["type"])
	}
	assert.Equal(t, id, str(evs[5], "item", "id"))
	assert.Equal(t, "what time is it", str(evs[6], "transcript"))
	assert.Equal(t, map[string]any{"type": "duration", "seconds": 1.1}, evs[6]["usage"], "speech start to stop")
	assert.Equal(t, "what time is it", str(evs[7], "item", "content", "0", "transcript"))
}

// TestFunctionCallRoundTrip: a client tool call ends the Realtime
// response; function_call_output answers it and the response.create that
// follows is the continuation (a new Realtime response, no new command).
func TestFunctionCallRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.event(session.ResponseStarted{ResponseID: "r1"})
	h.event(session.ToolCall{ResponseID: "r1", CallID: "srv", Name: "calculator", Arguments: json.RawMessage(`{}`), Location: tools.LocationServer})
	h.event(session.ToolCall{ResponseID: "r1", CallID: "call_1", Name: "get_current_time", Arguments: json.RawMessage(`{}`), Location: tools.LocationClient})
	evs := h.take()
	assert.Equal(t, []string{
		"response.created", "response.output_item.added", "conversation.item.added", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done", "conversation.item.done", "response.done",
	}, types(evs), "server tool calls are not shown")
	first := str(evs[0], "response", "id")
	assert.Equal(t, "function_call", str(evs[1], "item", "type"))
	assert.Equal(t, "call_1", str(evs[4], "call_id"))
	assert.Equal(t, "get_current_time", str(evs[4], "name"))
	assert.Equal(t, "{}", str(evs[4], "arguments"))
	assert.Equal(t, "call_1", str(evs[7], "response", "output", "0", "call_id"))

	in := h.client(`{"type":"response.create"}`)
	assert.Empty(t, in.Commands)
	assert.Equal(t, "conversation_already_has_active_response", str(h.take()[0], "error", "code"))

	in = h.client(`{"type":"conversation.item.create","item":{"type":"function_call_output","call_id":"call_1","output":"{\"time\":\"now\"}"}}`)
	assert.Equal(t, []session.Command{session.ToolResult{CallID: "call_1", Output: `{"time":"now"}`}}, in.Commands)
	assert.Equal(t, []string{"conversation.item.added", "conversation.item.done"}, types(h.take()))
	in = h.client(`{"type":"response.create"}`)
	assert.Empty(t, in.Commands, "absorbed: the session already continues")
	assert.Empty(t, h.take())

	h.event(session.TextDelta{ResponseID: "r1", Delta: "It is now."})
	h.event(session.ResponseDone{ResponseID: "r1", Status: session.StatusCompleted})
	evs = h.take()
	require.Equal(t, "response.created", types(evs)[0])
	assert.NotEqual(t, first, str(evs[0], "response", "id"), "a second Realtime response")
	assert.Equal(t, "response.done", types(evs)[len(evs)-1])
	assert.Equal(t, "response.output_audio_transcript.done", types(evs)[len(evs)-5])

	in = h.client(`{"type":"conversation.item.create","item":{"type":"function_call_output","call_id":"call_1","output":"x"}}`)
	assert.Empty(t, in.Commands)
	assert.Equal(t, "invalid_value", str(h.take()[0], "error", "code"), "no longer pending")
}

// TestBargeInThenTruncate: speech over the agent cancels the response
// (turn_detected); truncate maps the item's audio position to the session.
func TestBargeInThenTruncate(t *testing.T) {
	h := newHarness(t)
	h.event(session.ResponseStarted{ResponseID: "r1"})
	h.event(session.TextDelta{ResponseID: "r1", Delta: "Once upon a time"})
	for range 10 {
		require.NoError(t, h.c.Audio(make([]byte, 960))) // 10 × 20 ms at 24 kHz
	}
	h.event(session.SpeechStarted{Audio: time.Second})
	h.event(session.ResponseInterrupted{ResponseID: "r1", Reason: session.ReasonBargeIn, Played: 120 * time.Millisecond, TextPlayed: "Once"})
	require.NoError(t, h.c.Audio(make([]byte, 960)), "late frames are dropped")
	evs := h.take()
	tail := types(evs)[len(evs)-7:]
	assert.Equal(t, []string{
		"input_audio_buffer.speech_started", "response.output_audio.done", "response.output_audio_transcript.done",
		"response.content_part.done", "response.output_item.done", "conversation.item.done", "response.done",
	}, tail)
	last := evs[len(evs)-1]["response"].(map[string]any)
	assert.Equal(t, "cancelled", last["status"])
	assert.Equal(t, map[string]any{"type": "cancelled", "reason": "turn_detected"}, last["status_details"])
	assert.Equal(t, "incomplete", str(last, "output", "0", "status"))
	itemID := str(last, "output", "0", "id")

	in := h.client(`{"type":"conversation.item.truncate","event_id":"c9","item_id":"` + itemID + `","content_index":0,"audio_end_ms":120}`)
	assert.Equal(t, []session.Command{session.Truncate{ResponseID: "r1", Played: 120 * time.Millisecond}}, in.Commands)
	evs = h.take()
	require.Equal(t, []string{"conversation.item.truncated"}, types(evs))
	assert.Equal(t, 120.0, num(evs[0], "audio_end_ms"))
	assert.Equal(t, itemID, str(evs[0], "item_id"))
}

// TestPushToTalk: with turn_detection null, commit and clear drive the
// turn; the committed item gets its transcript when the session has it.
func TestPushToTalk(t *testing.T) {
	h := newHarness(t)
	in := h.client(`{"type":"session.update","session":{"audio":{"input":{"turn_detection":null,"transcription":{"model":"x"}}}}}`)
	require.Len(t, in.Commands, 1)
	assert.True(t, *in.Commands[0].(session.Update).ManualTurns)
	h.event(session.Updated{})
	evs := h.take()
	assert.Nil(t, evs[0]["session"].(map[string]any)["audio"].(map[string]any)["input"].(map[string]any)["turn_detection"])

	h.client(`{"type":"input_audio_buffer.commit","event_id":"c1"}`)
	assert.Equal(t, "input_audio_buffer_commit_empty", str(h.take()[0], "error", "code"))
	h.client(`{"type":"input_audio_buffer.append","audio":"AAAAAA=="}`)
	in = h.client(`{"type":"input_audio_buffer.clear"}`)
	assert.Equal(t, []session.Command{session.ClearInput{}}, in.Commands)
	assert.Equal(t, []string{"input_audio_buffer.cleared"}, types(h.take()))

	h.client(`{"type":"input_audio_buffer.append","audio":"AAAAAA=="}`)
	in = h.client(`{"type":"input_audio_buffer.commit"}`)
	assert.Equal(t, []session.Command{session.CommitInput{}}, in.Commands)
	evs = h.take()
	require.Equal(t, []string{"input_audio_buffer.committed", "conversation.item.added"}, types(evs))
	id := str(evs[0], "item_id")
	in = h.client(`{"type":"response.create"}`)
	assert.Equal(t, []session.Command{session.Respond{}}, in.Commands, "the session waits for the transcript")
	h.event(session.TranscriptFinal{Text: "hello"})
	evs = h.take()
	require.Equal(t, []string{"conversation.item.input_audio_transcription.completed", "conversation.item.done"}, types(evs))
	assert.Equal(t, id, str(evs[0], "item_id"))
	assert.InDelta(t, 2.0/24000, evs[0]["usage"].(map[string]any)["seconds"], 1e-9, "the committed audio: 2 samples")
	assert.Equal(t, "hello", str(evs[1], "item", "content", "0", "transcript"))
}

// TestRefusals: every refused client event gets an OpenAI-shaped error
// naming the client's event_id, and nothing reaches the session.
func TestRefusals(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, in, code, param string
	}{
		{"not json", `{"type":`, "invalid_json", ""},
		{"wrong type", `{"type":5}`, "invalid_value", "type"},
		{"unknown", `{"type":"dance","event_id":"e1"}`, "invalid_event_type", "type"},
		{"idle timeout", `{"type":"session.update","event_id":"e1","session":{"audio":{"input":{"turn_detection":{"type":"server_vad","idle_timeout_ms":5000}}}}}`, "unsupported_feature", "session.audio.input.turn_detection.idle_timeout_ms"},
		{"pcm rate", `{"type":"session.update","event_id":"e1","session":{"audio":{"input":{"format":{"type":"audio/pcm","rate":16000}}}}}`, "invalid_value", "session.audio.input.format.rate"},
		{"transcription session", `{"type":"session.update","event_id":"e1","session":{"type":"transcription"}}`, "unsupported_feature", "session.type"},
		{"tool choice", `{"type":"session.update","event_id":"e1","session":{"tool_choice":"required"}}`, "unsupported_feature", "session.tool_choice"},
		{"commit under server VAD", `{"type":"input_audio_buffer.commit","event_id":"e1"}`, "unsupported_feature", ""},
		{"clear under server VAD", `{"type":"input_audio_buffer.clear","event_id":"e1"}`, "unsupported_feature", ""},
		{"bad base64", `{"type":"input_audio_buffer.append","event_id":"e1","audio":"@@"}`, "invalid_value", "audio"},
		{"odd pcm", `{"type":"input_audio_buffer.append","event_id":"e1","audio":"AAAA"}`, "invalid_value", "audio"},
		{"system item", `{"type":"conversation.item.create","event_id":"e1","item":{"type":"message","role":"system","content":[{"type":"input_text","text":"x"}]}}`, "unsupported_feature", "item.role"},
		{"assistant audio item", `{"type":"conversation.item.create","event_id":"e1","item":{"type":"message","role":"assistant","content":[{"type":"output_audio","transcript":"x"}]}}`, "unsupported_feature", "item.content[0].type"},
		{"user audio item", `{"type":"conversation.item.create","event_id":"e1","item":{"type":"message","role":"user","content":[{"type":"input_audio","audio":""}]}}`, "unsupported_feature", "item.content[0].type"},
		{"delete", `{"type":"conversation.item.delete","event_id":"e1","item_id":"item_1"}`, "unsupported_feature", "item_id"},
		{"retrieve unknown", `{"type":"conversation.item.retrieve","event_id":"e1","item_id":"nope"}`, "item_not_found", "item_id"},
		{"truncate unknown", `{"type":"conversation.item.truncate","event_id":"e1","item_id":"nope","content_index":0,"audio_end_ms":5}`, "item_not_found", "item_id"},
		{"other conversation", `{"type":"response.create","event_id":"e1","response":{"conversation":"conv_9"}}`, "invalid_value", "response.conversation"},
		{"cancel idle", `{"type":"response.cancel","event_id":"e1"}`, "response_cancel_not_active", "response_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := h.client(tc.in)
			assert.Empty(t, in.Commands)
			assert.Nil(t, in.Audio)
			evs := h.take()
			require.Equal(t, []string{"error"}, types(evs))
			e := evs[0]["error"].(map[string]any)
			assert.Equal(t, "invalid_request_error", e["type"])
			assert.Equal(t, tc.code, e["code"])
			assert.NotEmpty(t, e["message"])
			if tc.param != "" {
				assert.Equal(t, tc.param, e["param"])
			}
			if strings.Contains(tc.in, `"event_id":"e1"`) {
				assert.Equal(t, "e1", e["event_id"])
			}
		})
	}
	// The session's own errors keep its code; plugin failures are server errors.
	h.event(session.NewError(session.CodeInvalidField, "vad.min_silence_ms must be within 200..3000", map[string]string{"field": "vad.min_silence_ms"}))
	h.event(session.NewError(session.CodeTTSFailed, "boom", nil))
	evs := h.take()
	assert.Equal(t, "invalid_field", str(evs[0], "error", "code"))
	assert.Equal(t, "vad.min_silence_ms", str(evs[0], "error", "param"))
	assert.Equal(t, "server_error", str(evs[1], "error", "type"))
	h.c.Close(session.EndShutdown, "bye")
	assert.Equal(t, wsclose.GoingAway, h.w.closed)
}

// FuzzHandle: any message is commands, audio or exactly one error event.
func FuzzHandle(f *testing.F) {
	for _, s := range []string{
		`{"type":"session.update","session":{"audio":{"input":{"turn_detection":{"type":"semantic_vad","eagerness":"high"}}}}}`,
		`{"type":"input_audio_buffer.append","audio":"AAAA"}`,
		`{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}}`,
		`{"type":"response.create","response":{"instructions":"x"}}`, `{"type":"conversation.item.truncate","item_id":"item_1"}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &wire{}
		c := realtime.NewConn(w, "")
		in := c.Handle(data)
		evs := w.take()
		if len(in.Commands) == 0 && in.Audio == nil {
			for _, e := range evs {
				if e["type"] == "error" {
					return
				}
			}
			if len(evs) == 0 && string(data) != "" {
				// An append of empty audio is accepted silently.
				return
			}
		}
	})
}
