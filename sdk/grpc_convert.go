package sdk

import (
	"encoding/json"
	"time"

	parleyv1 "github.com/parleyhq/parley/sdk/proto/parley/v1"
)

// Conversions between the sdk types and their protobuf messages. Values
// the other side cannot represent become InvalidArgument errors rather
// than silently changing meaning.

func kindToPB(k Kind) parleyv1.PluginKind {
	switch k {
	case KindSTT:
		return parleyv1.PluginKind_PLUGIN_KIND_STT
	case KindLLM:
		return parleyv1.PluginKind_PLUGIN_KIND_LLM
	case KindTTS:
		return parleyv1.PluginKind_PLUGIN_KIND_TTS
	default:
		return parleyv1.PluginKind_PLUGIN_KIND_UNSPECIFIED
	}
}

func kindFromPB(k parleyv1.PluginKind) Kind {
	switch k {
	case parleyv1.PluginKind_PLUGIN_KIND_STT:
		return KindSTT
	case parleyv1.PluginKind_PLUGIN_KIND_LLM:
		return KindLLM
	case parleyv1.PluginKind_PLUGIN_KIND_TTS:
		return KindTTS
	default:
		return ""
	}
}

func encodingToPB(e Encoding) (parleyv1.AudioEncoding, error) {
	switch e {
	case EncodingPCM16LE:
		return parleyv1.AudioEncoding_AUDIO_ENCODING_PCM16LE, nil
	case "":
		return parleyv1.AudioEncoding_AUDIO_ENCODING_UNSPECIFIED, nil
	default:
		return parleyv1.AudioEncoding_AUDIO_ENCODING_UNSPECIFIED,
			InvalidField("encoding", "unsupported encoding %q", e)
	}
}

func encodingFromPB(e parleyv1.AudioEncoding) Encoding {
	if e == parleyv1.AudioEncoding_AUDIO_ENCODING_PCM16LE {
		return EncodingPCM16LE
	}
	return ""
}

func infoToPB(in Info) (*parleyv1.InfoResponse, error) {
	out := &parleyv1.InfoResponse{
		Name:            in.Name,
		Version:         in.Version,
		Kind:            kindToPB(in.Kind),
		Capabilities:    in.Capabilities,
		ProtocolVersion: ProtocolVersion,
	}
	for _, f := range in.AudioFormats {
		enc, err := encodingToPB(f.Encoding)
		if err != nil {
			return nil, err
		}
		out.AudioFormats = append(out.AudioFormats, &parleyv1.AudioFormat{
			Encoding:     enc,
			SampleRateHz: int32(f.SampleRate), //nolint:gosec // sample rates are far below 2^31.
			Channels:     int32(f.Channels),   //nolint:gosec // channel counts are tiny.
		})
	}
	return out, nil
}

func infoFromPB(in *parleyv1.InfoResponse) Info {
	out := Info{
		Name:         in.GetName(),
		Version:      in.GetVersion(),
		Kind:         kindFromPB(in.GetKind()),
		Capabilities: in.GetCapabilities(),
	}
	for _, f := range in.GetAudioFormats() {
		out.AudioFormats = append(out.AudioFormats, AudioFormat{
			Encoding:   encodingFromPB(f.GetEncoding()),
			SampleRate: int(f.GetSampleRateHz()),
			Channels:   int(f.GetChannels()),
		})
	}
	return out
}

func sttConfigToPB(c STTConfig) (*parleyv1.STTConfig, error) {
	enc, err := encodingToPB(c.Encoding)
	if err != nil {
		return nil, err
	}
	return &parleyv1.STTConfig{
		SampleRateHz:   int32(c.SampleRate), //nolint:gosec // sample rates are far below 2^31.
		Encoding:       enc,
		Language:       c.Language,
		InterimResults: c.InterimResults,
		SessionId:      c.SessionID,
	}, nil
}

func sttConfigFromPB(c *parleyv1.STTConfig) STTConfig {
	return STTConfig{
		SampleRate:     int(c.GetSampleRateHz()),
		Encoding:       encodingFromPB(c.GetEncoding()),
		Language:       c.GetLanguage(),
		InterimResults: c.GetInterimResults(),
		SessionID:      c.GetSessionId(),
	}
}

// transcriptIntoPB fills dst (reused across a stream's events) from ev.
func transcriptIntoPB(dst *parleyv1.TranscribeResponse, ev TranscriptEvent) {
	dst.Text, dst.Final, dst.Confidence = ev.Text, ev.Final, ev.Confidence
	dst.StartOffsetUs, dst.EndOffsetUs = ev.Start.Microseconds(), ev.End.Microseconds()
}

func transcriptFromPB(ev *parleyv1.TranscribeResponse) TranscriptEvent {
	return TranscriptEvent{
		Text:       ev.GetText(),
		Final:      ev.GetFinal(),
		Confidence: ev.GetConfidence(),
		Start:      time.Duration(ev.GetStartOffsetUs()) * time.Microsecond,
		End:        time.Duration(ev.GetEndOffsetUs()) * time.Microsecond,
	}
}

func ttsConfigToPB(c TTSConfig) (*parleyv1.TTSConfig, error) {
	enc, err := encodingToPB(c.Encoding)
	if err != nil {
		return nil, err
	}
	return &parleyv1.TTSConfig{
		Voice:        c.Voice,
		SampleRateHz: int32(c.SampleRate), //nolint:gosec // sample rates are far below 2^31.
		Encoding:     enc,
		Speed:        c.Speed,
	}, nil
}

func ttsConfigFromPB(c *parleyv1.TTSConfig) TTSConfig {
	return TTSConfig{
		Voice:      c.GetVoice(),
		SampleRate: int(c.GetSampleRateHz()),
		Encoding:   encodingFromPB(c.GetEncoding()),
		Speed:      c.GetSpeed(),
	}
}

func audioChunkToPB(c AudioChunk) *parleyv1.SynthesizeResponse {
	return &parleyv1.SynthesizeResponse{
		Audio:        c.PCM,
		SampleRateHz: int32(c.SampleRate), //nolint:gosec // sample rates are far below 2^31.
		TextStart:    int64(c.TextStart),
		TextEnd:      int64(c.TextEnd),
	}
}

func audioChunkFromPB(c *parleyv1.SynthesizeResponse) AudioChunk {
	return AudioChunk{
		PCM:        c.GetAudio(),
		SampleRate: int(c.GetSampleRateHz()),
		TextStart:  int(c.GetTextStart()),
		TextEnd:    int(c.GetTextEnd()),
	}
}

func roleToPB(r Role) (parleyv1.Role, error) {
	switch r {
	case RoleSystem:
		return parleyv1.Role_ROLE_SYSTEM, nil
	case RoleUser:
		return parleyv1.Role_ROLE_USER, nil
	case RoleAssistant:
		return parleyv1.Role_ROLE_ASSISTANT, nil
	case RoleTool:
		return parleyv1.Role_ROLE_TOOL, nil
	default:
		return parleyv1.Role_ROLE_UNSPECIFIED, InvalidField("role", "unknown role %q", r)
	}
}

func roleFromPB(r parleyv1.Role) (Role, error) {
	switch r {
	case parleyv1.Role_ROLE_SYSTEM:
		return RoleSystem, nil
	case parleyv1.Role_ROLE_USER:
		return RoleUser, nil
	case parleyv1.Role_ROLE_ASSISTANT:
		return RoleAssistant, nil
	case parleyv1.Role_ROLE_TOOL:
		return RoleTool, nil
	default:
		return "", InvalidField("role", "unknown role %v", r)
	}
}

func toolCallToPB(c ToolCall) *parleyv1.ToolCall {
	return &parleyv1.ToolCall{Id: c.ID, Name: c.Name, ArgumentsJson: string(c.Arguments)}
}

func toolCallFromPB(c *parleyv1.ToolCall) ToolCall {
	var args json.RawMessage
	if c.GetArgumentsJson() != "" {
		args = json.RawMessage(c.GetArgumentsJson())
	}
	return ToolCall{ID: c.GetId(), Name: c.GetName(), Arguments: args}
}

func generateRequestToPB(req GenerateRequest) (*parleyv1.GenerateRequest, error) {
	out := &parleyv1.GenerateRequest{
		MaxTokens:   int32(min(req.MaxTokens, maxInt32)), //nolint:gosec // clamped above.
		Temperature: req.Temperature,
	}
	for _, m := range req.Messages {
		role, err := roleToPB(m.Role)
		if err != nil {
			return nil, err
		}
		pm := &parleyv1.Message{Role: role, Content: m.Content, ToolCallId: m.ToolCallID, IsError: m.IsError}
		for _, c := range m.ToolCalls {
			pm.ToolCalls = append(pm.ToolCalls, toolCallToPB(c))
		}
		out.Messages = append(out.Messages, pm)
	}
	for _, t := range req.Tools {
		out.Tools = append(out.Tools, &parleyv1.Tool{
			Name:                 t.Name,
			Description:          t.Description,
			ParametersJsonSchema: string(t.Parameters),
		})
	}
	return out, nil
}

func generateRequestFromPB(req *parleyv1.GenerateRequest) (GenerateRequest, error) {
	out := GenerateRequest{MaxTokens: int(req.GetMaxTokens())}
	if req.Temperature != nil {
		t := req.GetTemperature()
		out.Temperature = &t
	}
	for _, m := range req.GetMessages() {
		role, err := roleFromPB(m.GetRole())
		if err != nil {
			return GenerateRequest{}, err
		}
		msg := Message{Role: role, Content: m.GetContent(), ToolCallID: m.GetToolCallId(), IsError: m.GetIsError()}
		for _, c := range m.GetToolCalls() {
			msg.ToolCalls = append(msg.ToolCalls, toolCallFromPB(c))
		}
		out.Messages = append(out.Messages, msg)
	}
	for _, t := range req.GetTools() {
		var params json.RawMessage
		if t.GetParametersJsonSchema() != "" {
			params = json.RawMessage(t.GetParametersJsonSchema())
		}
		out.Tools = append(out.Tools, Tool{Name: t.GetName(), Description: t.GetDescription(), Parameters: params})
	}
	return out, nil
}

func stopReasonToPB(r StopReason) parleyv1.StopReason {
	switch r {
	case StopEndTurn:
		return parleyv1.StopReason_STOP_REASON_END_TURN
	case StopToolUse:
		return parleyv1.StopReason_STOP_REASON_TOOL_USE
	case StopMaxTokens:
		return parleyv1.StopReason_STOP_REASON_MAX_TOKENS
	default:
		return parleyv1.StopReason_STOP_REASON_OTHER
	}
}

func stopReasonFromPB(r parleyv1.StopReason) StopReason {
	switch r {
	case parleyv1.StopReason_STOP_REASON_END_TURN:
		return StopEndTurn
	case parleyv1.StopReason_STOP_REASON_TOOL_USE:
		return StopToolUse
	case parleyv1.StopReason_STOP_REASON_MAX_TOKENS:
		return StopMaxTokens
	default:
		return StopOther
	}
}

func generateEventToPB(ev GenerateEvent) (*parleyv1.GenerateResponse, error) {
	set := 0
	for _, ok := range []bool{ev.TextDelta != "", ev.ToolCall != nil, ev.Done != nil} {
		if ok {
			set++
		}
	}
	if set > 1 {
		return nil, Errorf(CodeInternal, "invalid generate event: more than one of TextDelta, ToolCall, Done set")
	}
	switch {
	case ev.Done != nil:
		return &parleyv1.GenerateResponse{Event: &parleyv1.GenerateResponse_Done{Done: &parleyv1.Done{
			StopReason: stopReasonToPB(ev.Done.StopReason),
			Usage: &parleyv1.Usage{
				InputTokens:  int64(ev.Done.Usage.InputTokens),
				OutputTokens: int64(ev.Done.Usage.OutputTokens),
			},
		}}}, nil
	case ev.ToolCall != nil:
		return &parleyv1.GenerateResponse{Event: &parleyv1.GenerateResponse_ToolCall{ToolCall: toolCallToPB(*ev.ToolCall)}}, nil
	case ev.TextDelta != "":
		return &parleyv1.GenerateResponse{Event: &parleyv1.GenerateResponse_TextDelta{TextDelta: ev.TextDelta}}, nil
	default:
		return nil, Errorf(CodeInternal, "empty generate event: one of TextDelta, ToolCall or Done must be set")
	}
}

func generateEventFromPB(ev *parleyv1.GenerateResponse) (GenerateEvent, error) {
	switch e := ev.GetEvent().(type) {
	case *parleyv1.GenerateResponse_TextDelta:
		return GenerateEvent{TextDelta: e.TextDelta}, nil
	case *parleyv1.GenerateResponse_ToolCall:
		c := toolCallFromPB(e.ToolCall)
		return GenerateEvent{ToolCall: &c}, nil
	case *parleyv1.GenerateResponse_Done:
		return GenerateEvent{Done: &Done{
			StopReason: stopReasonFromPB(e.Done.GetStopReason()),
			Usage: Usage{
				InputTokens:  int(e.Done.GetUsage().GetInputTokens()),
				OutputTokens: int(e.Done.GetUsage().GetOutputTokens()),
			},
		}}, nil
	default:
		return GenerateEvent{}, Errorf(CodeInternal, "plugin sent an empty generate event")
	}
}
