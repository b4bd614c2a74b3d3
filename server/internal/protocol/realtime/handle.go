package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/parleyhq/parley/server/internal/session"
)

// Handle parses one client text message and returns what it asks of the
// session. A refused event is answered with an `error` event here (the
// session goes on) and returns an empty Inbound.
func (c *Conn) Handle(data []byte) Inbound {
	var ev clientEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			c.sendRefusal(refuse(CodeInvalidValue, te.Field, "wrong type for "+te.Field), "")
		} else {
			c.sendRefusal(refuse(CodeInvalidJSON, "", "the message is not a JSON object"), "")
		}
		return Inbound{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	in, cerr := c.handle(&ev)
	if cerr != nil {
		c.sendRefusal(cerr, ev.EventID)
		return Inbound{}
	}
	return in
}

func (c *Conn) handle(ev *clientEvent) (Inbound, *refusal) {
	switch ev.Type {
	case "session.update":
		return c.sessionUpdate(ev)
	case "input_audio_buffer.append":
		if ev.Audio == nil {
			return Inbound{}, refuse(CodeInvalidValue, "audio", "missing audio")
		}
		pcm, err := c.decodeAudio(*ev.Audio)
		if err != nil {
			return Inbound{}, err
		}
		c.appended += time.Duration(len(pcm)/bytesPerSample) * time.Second / time.Duration(rateOf(c.cfg.inFmt))
		return Inbound{Audio: pcm}, nil
	case "input_audio_buffer.commit":
		return c.commit()
	case "input_audio_buffer.clear":
		if !c.manual() {
			return Inbound{}, refuse(CodeUnsupported, "", "input_audio_buffer.clear needs turn_detection null: under server VAD the VAD owns the buffer")
		}
		c.appended = 0
		_ = c.send(bufferEvent{Type: "input_audio_buffer.cleared", EventID: c.eventID()})
		return Inbound{Commands: []session.Command{session.ClearInput{}}}, nil
	case "output_audio_buffer.clear":
		return Inbound{}, refuse(CodeUnsupported, "", "output_audio_buffer.clear is WebRTC/SIP only; use response.cancel")
	case "conversation.item.create":
		return c.itemCreate(ev)
	case "conversation.item.retrieve":
		it, ok := c.findItem(ev.ItemID)
		if !ok {
			return Inbound{}, refuse(CodeUnknownItem, "item_id", "no item "+ev.ItemID)
		}
		_ = c.send(itemEvent{Type: "conversation.item.retrieved", EventID: c.eventID(), Item: it})
		return Inbound{}, nil
	case "conversation.item.truncate":
		return c.itemTruncate(ev)
	case "conversation.item.delete":
		return Inbound{}, refuse(CodeUnsupported, "item_id", "conversation.item.delete is not supported")
	case "response.create":
		return c.responseCreate(ev)
	case "response.cancel":
		if c.sessResp == "" || (ev.ResponseID != "" && (c.resp == nil || c.resp.id != ev.ResponseID)) {
			return Inbound{}, refuse(CodeNoActiveResponse, "response_id", "no active response to cancel")
		}
		return Inbound{Commands: []session.Command{session.Cancel{}}}, nil
	case "":
		return Inbound{}, refuse(CodeInvalidValue, "type", "missing event type")
	}
	return Inbound{}, refuse(CodeUnknownEvent, "type", "unknown client event "+ev.Type)
}

// sessionUpdate checks the whole update, then applies it: refused as a
// whole on the first unsupported or invalid field.
func (c *Conn) sessionUpdate(ev *clientEvent) (Inbound, *refusal) {
	s := ev.Session
	if s == nil {
		return Inbound{}, refuse(CodeInvalidValue, "session", "missing session")
	}
	if s.Type != "" && s.Type != sessionRealtime {
		return Inbound{}, refuse(CodeUnsupported, "session.type", "only realtime sessions are supported (not "+s.Type+")")
	}
	next := c.cfg
	var u session.Update
	if s.Instructions != nil {
		next.instructions = *s.Instructions
		u.SystemPrompt = &next.instructions
	}
	if s.OutputModalities != nil {
		if len(s.OutputModalities) != 1 || (s.OutputModalities[0] != modalityAudio && s.OutputModalities[0] != modalityText) {
			return Inbound{}, refuse(CodeInvalidValue, "session.output_modalities", `output_modalities must be ["audio"] or ["text"]`)
		}
		next.modalities = s.OutputModalities
	}
	if len(s.ToolChoice) > 0 && !bytes.Equal(bytes.TrimSpace(s.ToolChoice), []byte(toolChoiceAuto)) {
		return Inbound{}, refuse(CodeUnsupported, "session.tool_choice", `only tool_choice "auto" is supported`)
	}
	if s.Tools != nil {
		for _, t := range *s.Tools {
			if t.Type != "function" || t.Name == "" {
				return Inbound{}, refuse(CodeUnsupported, "session.tools", "only named function tools are supported (no MCP)")
			}
		}
		next.tools = *s.Tools
		u.Tools = toolDefs(next.tools)
	}
	if a := s.Audio; a != nil && a.Input != nil {
		if err := c.updateInput(a.Input, &next, &u); err != nil {
			return Inbound{}, err
		}
	}
	if a := s.Audio; a != nil && a.Output != nil {
		if f := a.Output.Format; f != nil {
			if err := checkFormat(*f, "session.audio.output.format"); err != nil {
				return Inbound{}, err
			}
			next.outFmt = normal(*f)
			u.OutputRate = ptr(rateOf(next.outFmt))
		}
		if len(a.Output.Voice) > 0 {
			var name string
			var obj struct {
				ID string `json:"id"`
			}
			switch {
			case json.Unmarshal(a.Output.Voice, &name) == nil:
			case json.Unmarshal(a.Output.Voice, &obj) == nil && obj.ID != "":
				name = obj.ID
			default:
				return Inbound{}, refuse(CodeInvalidValue, "session.audio.output.voice", "voice must be a name or {\"id\": …}")
			}
			// OpenAI's own voice names mean nothing to Parley's TTS plugins:
			// the session keeps its configured voice (session.updated says
			// which), so apps that name one run unchanged.
			if !openAIVoice(name) {
				next.voice = name
				u.Voice = &next.voice
			}
		}
		if a.Output.Speed != nil && *a.Output.Speed != 1 {
			return Inbound{}, refuse(CodeUnsupported, "session.audio.output.speed", "speed other than 1 is not supported")
		}
	}
	if s.Model != "" {
		next.model = s.Model
	}
	c.cfg = next
	return Inbound{Commands: []session.Command{u}}, nil
}

func (c *Conn) updateInput(in *audioInput, next *settings, u *session.Update) *refusal {
	if f := in.Format; f != nil {
		if err := checkFormat(*f, "session.audio.input.format"); err != nil {
			return err
		}
		next.inFmt = normal(*f)
		u.InputRate = ptr(rateOf(next.inFmt))
	}
	if len(in.Transcription) > 0 {
		next.transcribe = in.Transcription
		if string(in.Transcription) == "null" {
			next.transcribe = nil
		}
	}
	if len(in.NoiseReduction) > 0 && string(in.NoiseReduction) != "null" {
		return refuse(CodeUnsupported, "session.audio.input.noise_reduction", "noise_reduction is not supported")
	}
	if len(in.TurnDetection) == 0 {
		return nil
	}
	if string(in.TurnDetection) == "null" {
		next.turn = turnDetection{}
		u.ManualTurns = ptr(true)
		return nil
	}
	u.ManualTurns = ptr(false)
	var td turnDetection
	if err := json.Unmarshal(in.TurnDetection, &td); err != nil {
		return refuse(CodeInvalidValue, "session.audio.input.turn_detection", "turn_detection must be an object")
	}
	const param = "session.audio.input.turn_detection"
	if (td.CreateResponse != nil && !*td.CreateResponse) || (td.InterruptResponse != nil && !*td.InterruptResponse) {
		return refuse(CodeUnsupported, param, "create_response and interrupt_response false are not supported")
	}
	if td.IdleTimeoutMs != nil {
		return refuse(CodeUnsupported, param+".idle_timeout_ms", "idle_timeout_ms is not supported")
	}
	var vad session.VADUpdate
	out := turnDetection{Type: td.Type}
	switch td.Type {
	case vadServer:
		if td.SilenceDurationMs != nil {
			vad.MinSilence = ptr(time.Duration(*td.SilenceDurationMs) * time.Millisecond)
		}
		if td.Threshold != nil {
			if *td.Threshold <= 0 || *td.Threshold > 1 {
				return refuse(CodeInvalidValue, param+".threshold", "threshold must be within (0, 1]")
			}
			vad.ThresholdDB = ptr(*td.Threshold * dbPerThreshold)
		}
		if td.PrefixPaddingMs != nil {
			return refuse(CodeUnsupported, param+".prefix_padding_ms", "prefix_padding_ms is not configurable (Parley's speech onset includes its own pre-roll)")
		}
	case vadSemantic:
		silence := eagerMediumSilence
		switch td.Eagerness {
		case "low":
			silence = eagerLowSilence
		case "high":
			silence = eagerHighSilence
		case "", "auto", "medium":
		default:
			return refuse(CodeInvalidValue, param+".eagerness", "eagerness must be low, medium, high or auto")
		}
		out.Eagerness = td.Eagerness
		vad.MinSilence = &silence
	default:
		return refuse(CodeInvalidValue, param+".type", "turn_detection type must be server_vad or semantic_vad")
	}
	next.turn = out
	u.VAD = &vad
	return nil
}

// commit ends the user's turn under turn_detection null: the user item is
// committed now, its transcript follows.
func (c *Conn) commit() (Inbound, *refusal) {
	if !c.manual() {
		return Inbound{}, refuse(CodeUnsupported, "", "input_audio_buffer.commit needs turn_detection null: under server VAD the VAD ends turns")
	}
	if c.appended == 0 {
		return Inbound{}, refuse(CodeCommitEmpty, "", "the input audio buffer is empty")
	}
	heard := c.appended
	c.appended = 0
	id := c.itemID()
	_ = c.send(bufferEvent{Type: "input_audio_buffer.committed", EventID: c.eventID(), ItemID: id, PreviousItemID: c.lastItemID()})
	c.addItem(item{ID: id, Object: objectItem, Type: itemMessage, Status: statusCompleted, Role: roleUser, Content: []contentPart{{Type: partInputAudio}}})
	c.committed = append(c.committed, pendingUser{id: id, audio: heard})
	return Inbound{Commands: []session.Command{session.CommitInput{}}}, nil
}

// openAIVoice reports whether name is one of OpenAI's built-in voices.
func openAIVoice(name string) bool {
	switch name {
	case "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar":
		return true
	}
	return false
}

func checkFormat(f audioFormat, param string) *refusal {
	switch f.Type {
	case formatPCM:
		if f.Rate != 0 && f.Rate != PCMRate {
			return refuse(CodeInvalidValue, param+".rate", "audio/pcm is 24000 Hz")
		}
	case formatPCMU, formatPCMA:
	default:
		return refuse(CodeInvalidValue, param+".type", "format must be audio/pcm, audio/pcmu or audio/pcma")
	}
	return nil
}

func normal(f audioFormat) audioFormat {
	if f.Type == formatPCM {
		return audioFormat{Type: formatPCM, Rate: PCMRate}
	}
	return audioFormat{Type: f.Type}
}

func (c *Conn) itemCreate(ev *clientEvent) (Inbound, *refusal) {
	it := ev.Item
	if it == nil {
		return Inbound{}, refuse(CodeInvalidValue, "item", "missing item")
	}
	if ev.PreviousItemID != nil {
		if last := c.lastItemID(); *ev.PreviousItemID != "" && (last == nil || *last != *ev.PreviousItemID) {
			return Inbound{}, refuse(CodeUnsupported, "previous_item_id", "items can only be added at the end of the conversation")
		}
	}
	if it.ID == "" {
		it.ID = c.itemID()
	} else if _, dup := c.findItem(it.ID); dup {
		return Inbound{}, refuse(CodeInvalidValue, "item.id", "duplicate item id "+it.ID)
	}
	it.Object, it.Status = objectItem, statusCompleted
	var cmd session.Command
	switch it.Type {
	case itemMessage:
		want := map[string]string{roleUser: partInputText, roleAssistant: partOutputText}[it.Role]
		if want == "" {
			return Inbound{}, refuse(CodeUnsupported, "item.role", "only user and assistant messages can be created (not "+it.Role+")")
		}
		var text string
		for i, p := range it.Content {
			if p.Type != want || p.Text == nil {
				return Inbound{}, refuse(CodeUnsupported, "item.content["+strconv.Itoa(i)+"].type",
					"only "+want+" content is supported in "+it.Role+" messages (no audio or images)")
			}
			if text != "" {
				text += "\n"
			}
			text += *p.Text
		}
		if text == "" {
			return Inbound{}, refuse(CodeInvalidValue, "item.content", "a message needs text")
		}
		if it.Role == roleAssistant {
			cmd = session.AddAssistantText{Text: text}
		} else {
			cmd = session.AddUserText{Text: text}
		}
	case itemFunctionCallOutput:
		if it.CallID == "" || it.Output == nil {
			return Inbound{}, refuse(CodeInvalidValue, "item.call_id", "function_call_output needs call_id and output")
		}
		if !c.pendingCalls[it.CallID] {
			return Inbound{}, refuse(CodeInvalidValue, "item.call_id", "no pending function call "+it.CallID)
		}
		delete(c.pendingCalls, it.CallID)
		if c.waiting && len(c.pendingCalls) == 0 {
			c.absorb++
		}
		cmd = session.ToolResult{CallID: it.CallID, Output: *it.Output}
	default:
		return Inbound{}, refuse(CodeUnsupported, "item.type", "only message and function_call_output items can be created (not "+it.Type+")")
	}
	c.addItem(*it)
	c.doneItem(*it)
	return Inbound{Commands: []session.Command{cmd}}, nil
}

func (c *Conn) itemTruncate(ev *clientEvent) (Inbound, *refusal) {
	a, ok := c.assistant[ev.ItemID]
	if !ok {
		return Inbound{}, refuse(CodeUnknownItem, "item_id", "no assistant audio item "+ev.ItemID)
	}
	if ev.ContentIndex == nil || *ev.ContentIndex != 0 {
		return Inbound{}, refuse(CodeInvalidValue, "content_index", "content_index must be 0")
	}
	if ev.AudioEndMs == nil || *ev.AudioEndMs < 0 {
		return Inbound{}, refuse(CodeInvalidValue, "audio_end_ms", "audio_end_ms must be a non-negative number")
	}
	played := a.audioBase + time.Duration(*ev.AudioEndMs)*time.Millisecond
	_ = c.send(truncatedEvent{
		Type: "conversation.item.truncated", EventID: c.eventID(), ItemID: ev.ItemID, ContentIndex: 0, AudioEndMs: *ev.AudioEndMs,
	})
	return Inbound{Commands: []session.Command{session.Truncate{ResponseID: a.sessResp, Played: played}}}, nil
}

func (c *Conn) responseCreate(ev *clientEvent) (Inbound, *refusal) {
	var instr string
	oob := false
	if p := ev.Response; p != nil {
		if p.Conversation != nil {
			switch *p.Conversation {
			case conversationNone:
				oob = true
			case "auto", "":
			default:
				return Inbound{}, refuse(CodeInvalidValue, "response.conversation", `conversation must be "auto" or "none"`)
			}
		}
		if len(p.Input) > 0 && string(p.Input) != "null" {
			return Inbound{}, refuse(CodeUnsupported, "response.input", "response.input is not supported")
		}
		if len(p.Tools) > 0 || len(p.ToolChoice) > 0 {
			return Inbound{}, refuse(CodeUnsupported, "response.tools", "per-response tools are not supported: set them with session.update")
		}
		instr = p.Instructions
	}
	if c.absorb > 0 {
		c.absorb--
		return Inbound{}, nil // the continuation after the tool output is this response
	}
	if c.sessResp != "" {
		return Inbound{}, refuse(CodeActiveResponse, "", "a response is in progress; cancel it first")
	}
	return Inbound{Commands: []session.Command{session.Respond{Instructions: instr, OutOfBand: oob}}}, nil
}
