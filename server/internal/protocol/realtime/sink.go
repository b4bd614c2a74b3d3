package realtime

import (
	"strconv"
	"strings"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/protocol/wsclose"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/tools"
)

// Event implements session.Sink: one session event becomes the Realtime
// server events it stands for, in the protocol's order.
func (c *Conn) Event(ev session.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e := ev.(type) {
	case session.Established:
		c.sessionID = "sess_" + string(e.SessionID)
		return c.send(sessionEvent{Type: "session.created", EventID: c.eventID(), Session: c.sessionObject()})
	case session.Updated:
		c.applied(e)
		return c.send(sessionEvent{Type: "session.updated", EventID: c.eventID(), Session: c.sessionObject()})
	case session.SpeechStarted:
		if c.userItem != "" {
			return nil // speech again within the same turn: the same item
		}
		c.userItem, c.partial, c.speechStart = c.itemID(), "", e.Audio
		return c.send(bufferEvent{Type: "input_audio_buffer.speech_started", EventID: c.eventID(), ItemID: c.userItem, AudioStartMs: ms(e.Audio)})
	case session.SpeechStopped:
		c.speechEnd = e.Audio // the turn may go on: committed at turn.ended
	case session.TurnEnded:
		if e.Decision == session.DecisionManual {
			return nil // input_audio_buffer.commit answered it
		}
		return c.speechStopped(session.SpeechStopped{Audio: c.speechEnd})
	case session.TranscriptPartial:
		return c.partialTranscript(e.Text)
	case session.TranscriptFinal:
		return c.finalTranscript(e.Text)
	case session.ResponseStarted:
		c.sessResp, c.sessAudio, c.waiting, c.sessOOB = e.ResponseID, 0, false, e.OutOfBand
		c.openResponse()
	case session.TextDelta:
		if e.ResponseID != c.sessResp {
			return nil
		}
		c.openMessage()
		c.resp.text.WriteString(e.Delta)
		t := "response.output_audio_transcript.delta"
		if !c.audioOut() {
			t = "response.output_text.delta"
		}
		return c.send(c.content(t, func(ce *contentEvent) { ce.Delta = ptr(e.Delta) }))
	case session.ToolCall:
		if e.ResponseID != c.sessResp || e.Location != tools.LocationClient {
			return nil // server tools run inside Parley: not the client's business
		}
		c.functionCall(e)
	case session.ResponseInterrupted:
		if e.ResponseID != c.sessResp {
			return nil
		}
		reason := "turn_detected"
		if e.Reason == session.ReasonClientCancel {
			reason = "client_cancelled"
		}
		c.endResponse(statusCancelled, &statusDetails{Type: statusCancelled, Reason: reason}, e.Usage)
	case session.ResponseDone:
		if e.ResponseID != c.sessResp {
			return nil
		}
		if e.Status == session.StatusFailed {
			c.endResponse(statusFailed, &statusDetails{Type: statusFailed, Error: &statusError{Type: string(TypeServer), Code: "response_failed"}}, e.Usage)
		} else {
			c.endResponse(statusCompleted, nil, e.Usage)
		}
	case session.Error:
		return c.sessionError(e)
	}
	return nil
}

// Audio implements session.Sink: one frame becomes an output_audio.delta.
func (c *Conn) Audio(pcm []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessResp == "" || !c.audioOut() {
		return nil
	}
	c.openMessage()
	c.sessAudio += c.frameDuration(pcm)
	b64 := c.encodeAudio(pcm)
	return c.send(c.content("response.output_audio.delta", func(ce *contentEvent) { ce.Delta = &b64 }))
}

// Close implements session.Sink.
func (c *Conn) Close(reason session.EndReason, detail string) {
	c.w.Close(wsclose.For(reason), detail)
}

// applied takes the settings the session reports as in force.
func (c *Conn) applied(u session.Updated) {
	c.cfg.voice = u.Voice
	if c.manual() {
		return
	}
	if c.cfg.turn.Type == vadServer {
		c.cfg.turn.SilenceDurationMs = ptr(int(u.MinSilence.Milliseconds()))
		c.cfg.turn.Threshold = ptr(u.ThresholdDB / dbPerThreshold)
	}
	c.cfg.turn.CreateResponse, c.cfg.turn.InterruptResponse = ptr(true), ptr(true)
}

func (c *Conn) speechStopped(e session.SpeechStopped) error {
	if c.userItem == "" {
		return nil
	}
	id := c.userItem
	c.userAudio = e.Audio - c.speechStart
	_ = c.send(bufferEvent{Type: "input_audio_buffer.speech_stopped", EventID: c.eventID(), ItemID: id, AudioEndMs: ms(e.Audio)})
	_ = c.send(bufferEvent{Type: "input_audio_buffer.committed", EventID: c.eventID(), ItemID: id, PreviousItemID: c.lastItemID()})
	c.addItem(item{
		ID: id, Object: objectItem, Type: itemMessage, Status: statusCompleted, Role: roleUser,
		Content: []contentPart{{Type: partInputAudio}},
	})
	return nil
}

func (c *Conn) partialTranscript(text string) error {
	if c.userItem == "" || c.cfg.transcribe == nil || !strings.HasPrefix(text, c.partial) || text == c.partial {
		return nil
	}
	delta := text[len(c.partial):]
	c.partial = text
	return c.send(transcriptionEvent{
		Type: "conversation.item.input_audio_transcription.delta", EventID: c.eventID(), ItemID: c.userItem, Delta: &delta,
	})
}

func (c *Conn) finalTranscript(text string) error {
	id, spoken := c.userItem, c.userAudio
	if c.manual() && len(c.committed) > 0 {
		id, spoken = c.committed[0].id, c.committed[0].audio
		c.committed = c.committed[1:]
	} else {
		c.userItem = ""
	}
	if id == "" {
		return nil
	}
	if _, ok := c.findItem(id); !ok {
		return nil // speech that never stopped as a turn
	}
	if c.cfg.transcribe != nil {
		_ = c.send(transcriptionEvent{
			Type: "conversation.item.input_audio_transcription.completed", EventID: c.eventID(), ItemID: id, Transcript: &text,
			Usage: &usage{Type: "duration", Seconds: spoken.Seconds()},
		})
	}
	c.doneItem(item{
		ID: id, Object: objectItem, Type: itemMessage, Status: statusCompleted, Role: roleUser,
		Content: []contentPart{{Type: partInputAudio, Transcript: &text}},
	})
	return nil
}

func (c *Conn) openResponse() {
	c.nextResp++
	c.resp = &outResponse{id: "resp_" + strconv.Itoa(c.nextResp), sessResp: c.sessResp, audioBase: c.sessAudio}
	_ = c.send(responseEvent{Type: "response.created", EventID: c.eventID(), Response: c.responseObject(statusInProgress, nil)})
}

func (c *Conn) responseObject(status string, details *statusDetails) response {
	out := []item{}
	if c.resp != nil {
		out = append(out, c.resp.output...)
	}
	r := response{
		Object: objectResponse, Status: status, StatusDetails: details, Output: out, ConversationID: conversationID,
		OutputModalities: c.cfg.modalities,
	}
	if c.sessOOB {
		r.ConversationID = "" // out of band: in no conversation
	}
	if c.resp != nil {
		r.ID = c.resp.id
	}
	if c.audioOut() {
		r.Audio = &responseAudio{Output: responseAudioOutput{Format: c.cfg.outFmt, Voice: c.cfg.voice}}
	}
	return r
}

// ensureResponse opens a Realtime response for the session response's
// output after a client tool call.
func (c *Conn) ensureResponse() {
	if c.resp == nil {
		c.openResponse()
	}
}

// openMessage opens the response's assistant message and its content part.
func (c *Conn) openMessage() {
	c.ensureResponse()
	r := c.resp
	if r.msg != nil {
		return
	}
	it := item{ID: c.itemID(), Object: objectItem, Type: itemMessage, Status: statusInProgress, Role: roleAssistant}
	r.msgIndex = len(r.output)
	r.output = append(r.output, it)
	r.msg = &r.output[r.msgIndex]
	r.text.Reset()
	r.audioBase = c.sessAudio
	_ = c.send(outputItemEvent{Type: "response.output_item.added", EventID: c.eventID(), ResponseID: r.id, OutputIndex: r.msgIndex, Item: it})
	if !c.sessOOB {
		c.assistant[it.ID] = assistantItem{sessResp: c.sessResp, audioBase: r.audioBase}
		c.addItem(it)
	}
	part := contentPart{Type: partAudio, Transcript: ptr("")}
	if !c.audioOut() {
		part = contentPart{Type: partText, Text: ptr("")}
	}
	_ = c.send(c.content("response.content_part.added", func(ce *contentEvent) { ce.Part = &part }))
}

// content builds an event of the open message's content part 0.
func (c *Conn) content(typ string, set func(*contentEvent)) contentEvent {
	r := c.resp
	ce := contentEvent{
		Type: typ, EventID: c.eventID(), ResponseID: r.id, ItemID: r.msg.ID, OutputIndex: r.msgIndex, ContentIndex: ptr(0),
	}
	set(&ce)
	return ce
}

// closeMessage ends the open assistant message with status.
func (c *Conn) closeMessage(status string) {
	r := c.resp
	if r == nil || r.msg == nil {
		return
	}
	text := r.text.String()
	var part contentPart
	if c.audioOut() {
		_ = c.send(c.content("response.output_audio.done", func(*contentEvent) {}))
		_ = c.send(c.content("response.output_audio_transcript.done", func(ce *contentEvent) { ce.Transcript = &text }))
		part = contentPart{Type: partAudio, Transcript: &text}
		r.msg.Content = []contentPart{{Type: partOutputAudio, Transcript: &text}}
	} else {
		_ = c.send(c.content("response.output_text.done", func(ce *contentEvent) { ce.Text = &text }))
		part = contentPart{Type: partText, Text: &text}
		r.msg.Content = []contentPart{{Type: partOutputText, Text: &text}}
	}
	_ = c.send(c.content("response.content_part.done", func(ce *contentEvent) { ce.Part = &part }))
	r.msg.Status = status
	it := *r.msg
	_ = c.send(outputItemEvent{Type: "response.output_item.done", EventID: c.eventID(), ResponseID: r.id, OutputIndex: r.msgIndex, Item: it})
	if !c.sessOOB {
		c.doneItem(it)
	}
	r.msg = nil
}

// functionCall shows a client tool call as a function_call item and ends
// the Realtime response: the client answers with function_call_output
// (and, as Realtime apps do, response.create).
func (c *Conn) functionCall(e session.ToolCall) {
	c.ensureResponse()
	c.closeMessage(statusCompleted)
	r := c.resp
	args := string(e.Arguments)
	it := item{
		ID: c.itemID(), Object: objectItem, Type: itemFunctionCall, Status: statusInProgress,
		CallID: e.CallID, Name: e.Name, Arguments: ptr(""),
	}
	idx := len(r.output)
	r.output = append(r.output, it)
	_ = c.send(outputItemEvent{Type: "response.output_item.added", EventID: c.eventID(), ResponseID: r.id, OutputIndex: idx, Item: it})
	if !c.sessOOB {
		c.addItem(it)
	}
	base := contentEvent{ResponseID: r.id, ItemID: it.ID, OutputIndex: idx, CallID: e.CallID}
	delta := base
	delta.Type, delta.EventID, delta.Delta = "response.function_call_arguments.delta", c.eventID(), &args
	_ = c.send(delta)
	done := base
	done.Type, done.EventID, done.Arguments, done.Name = "response.function_call_arguments.done", c.eventID(), &args, e.Name
	_ = c.send(done)
	it.Status, it.Arguments = statusCompleted, &args
	r.output[idx] = it
	_ = c.send(outputItemEvent{Type: "response.output_item.done", EventID: c.eventID(), ResponseID: r.id, OutputIndex: idx, Item: it})
	if !c.sessOOB {
		c.doneItem(it)
	}
	c.pendingCalls[e.CallID] = true
	_ = c.send(responseEvent{Type: "response.done", EventID: c.eventID(), Response: c.responseObject(statusCompleted, nil)})
	c.resp, c.waiting = nil, true
}

// endResponse ends the session response's Realtime response; u (if
// reported) is the whole session response's, given to its last Realtime
// response.
func (c *Conn) endResponse(status string, details *statusDetails, u sdk.Usage) {
	c.ensureResponse()
	itemStatus := statusCompleted
	if status != statusCompleted {
		itemStatus = statusIncomplete
	}
	c.closeMessage(itemStatus)
	obj := c.responseObject(status, details)
	if u.InputTokens > 0 || u.OutputTokens > 0 {
		obj.Usage = &responseUsage{
			TotalTokens: u.InputTokens + u.OutputTokens, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
			InputTokenDetails: tokenDetails{TextTokens: u.InputTokens}, OutputTokenDetails: tokenDetails{TextTokens: u.OutputTokens},
		}
	}
	_ = c.send(responseEvent{Type: "response.done", EventID: c.eventID(), Response: obj})
	c.resp, c.sessResp, c.waiting, c.absorb = nil, "", false, 0
	clear(c.pendingCalls)
}

func (c *Conn) sessionError(e session.Error) error {
	typ := TypeInvalidRequest
	switch e.Code {
	case session.CodeSTTFailed, session.CodeLLMFailed, session.CodeTTSFailed, session.CodeToolFailed,
		session.CodeToolTimeout, session.CodeToolRoundsExceeded, session.CodeInternal:
		typ = TypeServer
	}
	we := wireError{Type: typ, Code: string(e.Code), Message: e.Message}
	if f, ok := e.Details["field"]; ok {
		we.Param = &f
	}
	return c.send(errorEvent{Type: "error", EventID: c.eventID(), Error: we})
}
