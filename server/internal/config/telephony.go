package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Telephony defaults.
const (
	defaultTelephonyStartTimeout = 5 * time.Second
	// defaultTelephonyMessagesPerSecond: Twilio sends 50 media messages a
	// second plus marks and DTMF.
	defaultTelephonyMessagesPerSecond = 200
	defaultTelephonyTokenTTL          = 5 * time.Minute
	defaultDTMFText                   = "The caller pressed %s."
	defaultTwilioAPIBaseURL           = "https://api.twilio.com"
)

// Telephony configures phone calls: Twilio's voice webhook and Media
// Streams (/v1/telephony/twilio/…).
type Telephony struct {
	// Enabled mounts the telephony routes.
	Enabled bool `koanf:"enabled"`
	// PublicURL is Parley's base URL as the carrier reaches it
	// (https://parley.example.com). The media stream URL in the TwiML and
	// the URL whose signature is checked derive from it, never from
	// request headers.
	PublicURL string `koanf:"public_url"`
	// StartTimeout closes a media stream that sends no `start` in time.
	StartTimeout time.Duration `koanf:"start_timeout"`
	// MaxMessagesPerSecond bounds inbound stream messages; beyond it the
	// stream is closed (1008).
	MaxMessagesPerSecond int `koanf:"max_messages_per_second"`
	// TokenTTL is how long the stream token of a webhook answer is valid.
	TokenTTL time.Duration `koanf:"token_ttl"`
	// DTMFText is the user text the LLM sees for keypad input; %s stands
	// for the digits.
	DTMFText string `koanf:"dtmf_text"`
	// VAD overrides the session's voice activity settings for calls (0 =
	// the vad.* value); each must lie within the vad.*_min/_max limits.
	VAD TelephonyVAD `koanf:"vad"`
	// Twilio holds the Twilio account settings.
	Twilio Twilio `koanf:"twilio"`
	// Numbers give per-called-number settings (matched on the webhook's To).
	Numbers []PhoneNumber `koanf:"numbers"`
}

// TelephonyVAD are the VAD settings of phone calls; zero keeps vad.*.
type TelephonyVAD struct {
	MinSilence  time.Duration `koanf:"min_silence"`
	MinSpeech   time.Duration `koanf:"min_speech"`
	ThresholdDB float64       `koanf:"threshold_db"`
}

// Twilio configures the Twilio account.
type Twilio struct {
	// AuthTokenEnv names the environment variable holding the account's
	// auth token. When set, webhook signatures (X-Twilio-Signature) are
	// required and verified, and the token signs the stream tokens.
	AuthTokenEnv string `koanf:"auth_token_env"`
	// AuthToken is resolved from AuthTokenEnv. Secret: never printed.
	AuthToken string `koanf:"-"`
	// RESTHangup completes the call through Twilio's REST API when the
	// agent ends the session (needs the auth token); without it the TwiML
	// after <Connect> (a <Hangup/>) ends the call.
	RESTHangup bool `koanf:"rest_hangup"`
	// APIBaseURL is Twilio's REST API (tests point it at a local fake).
	APIBaseURL string `koanf:"api_base_url"`
}

// PhoneNumber is the configuration of calls to one number.
type PhoneNumber struct {
	// To is the called number in E.164 (+15551234567).
	To           string `koanf:"to"`
	SystemPrompt string `koanf:"system_prompt"`
	Voice        string `koanf:"voice"`
	// Tools, when set, are the only server tools calls to this number may
	// use (names from tools.builtin and tools.webhooks).
	Tools []string `koanf:"tools"`
}

func defaultTelephony() Telephony {
	return Telephony{
		StartTimeout:         defaultTelephonyStartTimeout,
		MaxMessagesPerSecond: defaultTelephonyMessagesPerSecond,
		TokenTTL:             defaultTelephonyTokenTTL,
		DTMFText:             defaultDTMFText,
		Twilio:               Twilio{APIBaseURL: defaultTwilioAPIBaseURL},
	}
}

func (c *Config) validateTelephony(v *validator) {
	t := c.Telephony
	if !t.Enabled {
		return
	}
	if u, err := url.Parse(t.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		v.fail("telephony.public_url", t.PublicURL, "must be Parley's base URL as Twilio reaches it, e.g. https://parley.example.com")
	}
	v.positive("telephony.start_timeout", t.StartTimeout)
	v.positive("telephony.token_ttl", t.TokenTTL)
	v.atLeast("telephony.max_messages_per_second", int64(t.MaxMessagesPerSecond), 1)
	if strings.Count(t.DTMFText, "%s") != 1 || strings.Count(t.DTMFText, "%") != 1 {
		v.fail("telephony.dtmf_text", t.DTMFText, "must contain %%s (the digits) once and no other %%")
	}
	lim := c.VAD
	inRange := func(key string, d, lo, hi time.Duration) {
		if d != 0 && (d < lo || (hi > 0 && d > hi)) {
			v.fail(key, d, "must be 0 (vad.* value) or within %s..%s", lo, hi)
		}
	}
	inRange("telephony.vad.min_silence", t.VAD.MinSilence, lim.MinSilenceMin, lim.MinSilenceMax)
	inRange("telephony.vad.min_speech", t.VAD.MinSpeech, lim.MinSpeechMin, lim.MinSpeechMax)
	if db := t.VAD.ThresholdDB; db != 0 && (db < lim.ThresholdMin || (lim.ThresholdMax > 0 && db > lim.ThresholdMax)) {
		v.fail("telephony.vad.threshold_db", db, "must be 0 (vad.threshold) or within %g..%g", lim.ThresholdMin, lim.ThresholdMax)
	}
	if t.Twilio.AuthTokenEnv != "" && t.Twilio.AuthToken == "" {
		v.fail("telephony.twilio.auth_token_env", t.Twilio.AuthTokenEnv, "names an environment variable that is not set")
	}
	if t.Twilio.RESTHangup && t.Twilio.AuthToken == "" {
		v.fail("telephony.twilio.rest_hangup", true, "needs telephony.twilio.auth_token_env")
	}
	if u, err := url.Parse(t.Twilio.APIBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.fail("telephony.twilio.api_base_url", t.Twilio.APIBaseURL, "must be an http(s) URL")
	}
	seen := map[string]bool{}
	for i, n := range t.Numbers {
		key := fmt.Sprintf("telephony.numbers[%d].to", i)
		if !e164(n.To) {
			v.fail(key, n.To, "must be an E.164 number like +15551234567")
		}
		if seen[n.To] {
			v.fail(key, n.To, "is listed twice")
		}
		seen[n.To] = true
	}
}

// e164 is a plausible E.164 number: + and 7 to 15 digits.
func e164(s string) bool {
	const minDigits, maxDigits = 7, 15
	if len(s) < minDigits+1 || len(s) > maxDigits+1 || s[0] != '+' {
		return false
	}
	return strings.Trim(s[1:], "0123456789") == ""
}
