package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/pluginconfig"
)

// Defaults for settings left out of the configuration.
const (
	defaultBaseURL        = "https://api.elevenlabs.io"
	defaultModelID        = "eleven_flash_v2_5"
	defaultAPIKeyEnv      = "ELEVENLABS_API_KEY"
	defaultConnectTimeout = 5 * time.Second
	defaultIdleTimeout    = 10 * time.Second
	// defaultKeepAlive stays under the WebSocket endpoint's 20 s inactivity
	// timeout.
	defaultKeepAlive    = 15 * time.Second
	defaultCloseTimeout = 10 * time.Second
)

// Ranges ElevenLabs accepts for the voice settings.
const (
	minSpeed = 0.7
	maxSpeed = 1.2
)

// The modes: one streaming HTTP request per sentence, or one WebSocket
// (the stream-input endpoint) per stream.
const (
	modeHTTP      = "http"
	modeWebSocket = "websocket"
)

// voiceSettings is ElevenLabs' voice_settings object; unset fields are left
// to the voice's stored defaults.
type voiceSettings struct {
	Stability       *float64 `json:"stability,omitempty"`
	SimilarityBoost *float64 `json:"similarity_boost,omitempty"`
	Style           *float64 `json:"style,omitempty"`
	UseSpeakerBoost *bool    `json:"use_speaker_boost,omitempty"`
	Speed           *float64 `json:"speed,omitempty"`
}

// settings is the plugin's configuration (the `config` object in Parley's
// plugin instance).
type settings struct {
	VoiceID        string                `json:"voice_id"`
	ModelID        string                `json:"model_id"`
	BaseURL        string                `json:"base_url"`
	APIKeyEnv      string                `json:"api_key_env"`
	Mode           string                `json:"mode"`
	VoiceSettings  *voiceSettings        `json:"voice_settings"`
	ConnectTimeout pluginconfig.Duration `json:"connect_timeout"`
	IdleTimeout    pluginconfig.Duration `json:"idle_timeout"`
	// KeepAlive and CloseTimeout apply to the websocket mode only.
	KeepAlive    pluginconfig.Duration `json:"keepalive_interval"`
	CloseTimeout pluginconfig.Duration `json:"close_timeout"`
}

// parseSettings decodes and validates raw settings, filling defaults. It
// rejects unknown fields.
func parseSettings(raw json.RawMessage) (settings, error) {
	s := settings{
		ModelID:        defaultModelID,
		BaseURL:        defaultBaseURL,
		APIKeyEnv:      defaultAPIKeyEnv,
		Mode:           modeHTTP,
		ConnectTimeout: pluginconfig.Duration(defaultConnectTimeout),
		IdleTimeout:    pluginconfig.Duration(defaultIdleTimeout),
		KeepAlive:      pluginconfig.Duration(defaultKeepAlive),
		CloseTimeout:   pluginconfig.Duration(defaultCloseTimeout),
	}
	if err := pluginconfig.Decode(raw, &s); err != nil {
		return settings{}, err
	}
	return s, s.validate()
}

func (s settings) validate() error {
	switch {
	case strings.TrimSpace(s.VoiceID) == "":
		return sdk.InvalidField("voice_id", "is required")
	case strings.TrimSpace(s.ModelID) == "":
		return sdk.InvalidField("model_id", "must not be empty")
	case s.APIKeyEnv == "":
		return sdk.InvalidField("api_key_env", "must not be empty")
	case s.Mode != modeHTTP && s.Mode != modeWebSocket:
		return sdk.InvalidField("mode", "must be %q or %q", modeHTTP, modeWebSocket)
	case s.KeepAlive <= 0:
		return sdk.InvalidField("keepalive_interval", "must be positive")
	case s.CloseTimeout <= 0:
		return sdk.InvalidField("close_timeout", "must be positive")
	case s.ConnectTimeout <= 0:
		return sdk.InvalidField("connect_timeout", "must be positive")
	case s.IdleTimeout <= 0:
		return sdk.InvalidField("idle_timeout", "must be positive")
	}
	if _, err := pluginconfig.ParseURL("base_url", s.BaseURL); err != nil {
		return err
	}
	if vs := s.VoiceSettings; vs != nil {
		for name, v := range map[string]*float64{
			"voice_settings.stability":        vs.Stability,
			"voice_settings.similarity_boost": vs.SimilarityBoost,
			"voice_settings.style":            vs.Style,
		} {
			if v != nil && (*v < 0 || *v > 1) {
				return sdk.InvalidField(name, "must be between 0 and 1")
			}
		}
		if vs.Speed != nil && (*vs.Speed < minSpeed || *vs.Speed > maxSpeed) {
			return sdk.InvalidField("voice_settings.speed", "must be between %.1f and %.1f", minSpeed, maxSpeed)
		}
	}
	return nil
}
