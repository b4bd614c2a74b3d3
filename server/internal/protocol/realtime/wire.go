package realtime

import "encoding/json"

// The JSON of the GA Realtime protocol, as the official `openai` SDK
// declares it (resources/realtime/realtime.d.ts). Only the fields Parley
// reads or writes are here.

// clientEvent is every client event in one flat shape: each event type
// uses its own subset of the fields.
type clientEvent struct {
	Type           string          `json:"type"`
	EventID        string          `json:"event_id"`
	Session        *sessionConfig  `json:"session"`
	Audio          *string         `json:"audio"`
	Item           *item           `json:"item"`
	PreviousItemID *string         `json:"previous_item_id"`
	ItemID         string          `json:"item_id"`
	ContentIndex   *int            `json:"content_index"`
	AudioEndMs     *int            `json:"audio_end_ms"`
	Response       *responseParams `json:"response"`
	ResponseID     string          `json:"response_id"`
}

// sessionConfig is the session object of session.update (in) and of
// session.created / session.updated (out).
type sessionConfig struct {
	Type             string          `json:"type,omitempty"`
	Object           string          `json:"object,omitempty"`
	ID               string          `json:"id,omitempty"`
	Model            string          `json:"model,omitempty"`
	OutputModalities []string        `json:"output_modalities,omitempty"`
	Instructions     *string         `json:"instructions,omitempty"`
	Audio            *audioConfig    `json:"audio,omitempty"`
	Tools            *[]functionTool `json:"tools,omitempty"`
	ToolChoice       json.RawMessage `json:"tool_choice,omitempty"`
	MaxOutputTokens  json.RawMessage `json:"max_output_tokens,omitempty"`
}

type audioConfig struct {
	Input  *audioInput  `json:"input,omitempty"`
	Output *audioOutput `json:"output,omitempty"`
}

type audioInput struct {
	Format *audioFormat `json:"format,omitempty"`
	// Transcription, NoiseReduction and TurnDetection may be JSON null,
	// which differs from absent.
	Transcription  json.RawMessage `json:"transcription,omitempty"`
	NoiseReduction json.RawMessage `json:"noise_reduction,omitempty"`
	TurnDetection  json.RawMessage `json:"turn_detection,omitempty"`
}

type audioOutput struct {
	Format *audioFormat `json:"format,omitempty"`
	// Voice is a name or {"id": …}.
	Voice json.RawMessage `json:"voice,omitempty"`
	Speed *float64        `json:"speed,omitempty"`
}

type audioFormat struct {
	Type string `json:"type"`
	Rate int    `json:"rate,omitempty"`
}

type turnDetection struct {
	Type              string   `json:"type"`
	Threshold         *float64 `json:"threshold,omitempty"`
	PrefixPaddingMs   *int     `json:"prefix_padding_ms,omitempty"`
	SilenceDurationMs *int     `json:"silence_duration_ms,omitempty"`
	CreateResponse    *bool    `json:"create_response,omitempty"`
	InterruptResponse *bool    `json:"interrupt_response,omitempty"`
	IdleTimeoutMs     *int     `json:"idle_timeout_ms,omitempty"`
	Eagerness         string   `json:"eagerness,omitempty"`
}

type functionTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type responseParams struct {
	Conversation    *string         `json:"conversation"`
	Input           json.RawMessage `json:"input"`
	Instructions    string          `json:"instructions"`
	Tools           json.RawMessage `json:"tools"`
	ToolChoice      json.RawMessage `json:"tool_choice"`
	Modalities      []string        `json:"output_modalities"`
	MaxOutputTokens json.RawMessage `json:"max_output_tokens"`
}

// item is a conversation item.
type item struct {
	ID        string        `json:"id,omitempty"`
	Object    string        `json:"object,omitempty"`
	Type      string        `json:"type"`
	Status    string        `json:"status,omitempty"`
	Role      string        `json:"role,omitempty"`
	Content   []contentPart `json:"content,omitempty"`
	CallID    string        `json:"call_id,omitempty"`
	Name      string        `json:"name,omitempty"`
	Arguments *string       `json:"arguments,omitempty"`
	Output    *string       `json:"output,omitempty"`
}

type contentPart struct {
	Type       string  `json:"type"`
	Text       *string `json:"text,omitempty"`
	Audio      *string `json:"audio,omitempty"`
	Transcript *string `json:"transcript,omitempty"`
}

// The item vocabulary.
const (
	objectItem      = "realtime.item"
	objectResponse  = "realtime.response"
	objectSession   = "realtime.session"
	sessionRealtime = "realtime"

	itemMessage            = "message"
	itemFunctionCall       = "function_call"
	itemFunctionCallOutput = "function_call_output"

	roleUser      = "user"
	roleAssistant = "assistant"

	partInputText   = "input_text"
	partInputAudio  = "input_audio"
	partOutputText  = "output_text"
	partOutputAudio = "output_audio"
	// partText and partAudio are the part types of content_part events.
	partText  = "text"
	partAudio = "audio"

	statusInProgress = "in_progress"
	statusCompleted  = "completed"
	statusIncomplete = "incomplete"
	statusCancelled  = "cancelled"
	statusFailed     = "failed"

	modalityAudio = "audio"
	modalityText  = "text"

	formatPCM  = "audio/pcm"
	formatPCMU = "audio/pcmu"
	formatPCMA = "audio/pcma"

	vadServer   = "server_vad"
	vadSemantic = "semantic_vad"
)

// response is a Realtime response object.
type response struct {
	ID               string         `json:"id"`
	Object           string         `json:"object"`
	Status           string         `json:"status"`
	StatusDetails    *statusDetails `json:"status_details"`
	Output           []item         `json:"output"`
	ConversationID   string         `json:"conversation_id,omitempty"`
	OutputModalities []string       `json:"output_modalities"`
	Audio            *responseAudio `json:"audio,omitempty"`
	Usage            *responseUsage `json:"usage"`
}

// responseUsage counts tokens as the LLM plugin reports them (all text:
// Parley's LLMs see transcripts, not audio).
type responseUsage struct {
	TotalTokens        int          `json:"total_tokens"`
	InputTokens        int          `json:"input_tokens"`
	OutputTokens       int          `json:"output_tokens"`
	InputTokenDetails  tokenDetails `json:"input_token_details"`
	OutputTokenDetails tokenDetails `json:"output_token_details"`
}

type tokenDetails struct {
	TextTokens  int `json:"text_tokens"`
	AudioTokens int `json:"audio_tokens"`
}

type statusDetails struct {
	Type   string       `json:"type"`
	Reason string       `json:"reason,omitempty"`
	Error  *statusError `json:"error,omitempty"`
}

type statusError struct {
	Type string `json:"type,omitempty"`
	Code string `json:"code,omitempty"`
}

type responseAudio struct {
	Output responseAudioOutput `json:"output"`
}

type responseAudioOutput struct {
	Format audioFormat `json:"format"`
	Voice  string      `json:"voice"`
}

type usage struct {
	Type    string  `json:"type"`
	Seconds float64 `json:"seconds"`
}

// Server events.

type sessionEvent struct {
	Type    string        `json:"type"`
	EventID string        `json:"event_id"`
	Session sessionConfig `json:"session"`
}

type itemEvent struct {
	Type           string  `json:"type"`
	EventID        string  `json:"event_id"`
	PreviousItemID *string `json:"previous_item_id,omitempty"`
	Item           item    `json:"item"`
}

type bufferEvent struct {
	Type           string  `json:"type"`
	EventID        string  `json:"event_id"`
	ItemID         string  `json:"item_id,omitempty"`
	AudioStartMs   *int64  `json:"audio_start_ms,omitempty"`
	AudioEndMs     *int64  `json:"audio_end_ms,omitempty"`
	PreviousItemID *string `json:"previous_item_id,omitempty"`
}

type transcriptionEvent struct {
	Type         string  `json:"type"`
	EventID      string  `json:"event_id"`
	ItemID       string  `json:"item_id"`
	ContentIndex int     `json:"content_index"`
	Delta        *string `json:"delta,omitempty"`
	Transcript   *string `json:"transcript,omitempty"`
	Usage        *usage  `json:"usage,omitempty"`
}

type truncatedEvent struct {
	Type         string `json:"type"`
	EventID      string `json:"event_id"`
	ItemID       string `json:"item_id"`
	ContentIndex int    `json:"content_index"`
	AudioEndMs   int    `json:"audio_end_ms"`
}

type responseEvent struct {
	Type     string   `json:"type"`
	EventID  string   `json:"event_id"`
	Response response `json:"response"`
}

type outputItemEvent struct {
	Type        string `json:"type"`
	EventID     string `json:"event_id"`
	ResponseID  string `json:"response_id"`
	OutputIndex int    `json:"output_index"`
	Item        item   `json:"item"`
}

// contentEvent is every response.content_part.*, response.output_audio*,
// response.output_text.* and response.function_call_arguments.* event.
type contentEvent struct {
	Type         string       `json:"type"`
	EventID      string       `json:"event_id"`
	ResponseID   string       `json:"response_id"`
	ItemID       string       `json:"item_id"`
	OutputIndex  int          `json:"output_index"`
	ContentIndex *int         `json:"content_index,omitempty"`
	CallID       string       `json:"call_id,omitempty"`
	Name         string       `json:"name,omitempty"`
	Delta        *string      `json:"delta,omitempty"`
	Text         *string      `json:"text,omitempty"`
	Transcript   *string      `json:"transcript,omitempty"`
	Arguments    *string      `json:"arguments,omitempty"`
	Part         *contentPart `json:"part,omitempty"`
}

type errorEvent struct {
	Type    string    `json:"type"`
	EventID string    `json:"event_id"`
	Error   wireError `json:"error"`
}

type wireError struct {
	Type    ErrorType `json:"type"`
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Param   *string   `json:"param"`
	EventID *string   `json:"event_id"`
}
