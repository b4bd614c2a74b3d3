package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTelephonyConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`
telephony:
  enabled: true
  public_url: https://parley.example.com
  twilio: {auth_token_env: MY_TWILIO_TOKEN, rest_hangup: true}
  vad: {min_silence: 500ms}
  numbers:
    - {to: "+15551234567", system_prompt: "You answer the help line.", voice: kal16}
`), 0o600))
	cfg, err := LoadWith(Options{Paths: []string{p}, Environ: func() []string { return []string{"MY_TWILIO_TOKEN=s3cr3t-token"} }})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "s3cr3t-token", cfg.Telephony.Twilio.AuthToken)
	assert.Equal(t, "The caller pressed %s.", cfg.Telephony.DTMFText)
	assert.Equal(t, "kal16", cfg.Telephony.Numbers[0].Voice)
	out, err := cfg.YAML()
	require.NoError(t, err)
	assert.NotContains(t, string(out), "s3cr3t-token", "the auth token is never printed")
	assert.Contains(t, string(out), "auth_token_env: MY_TWILIO_TOKEN")

	for _, tc := range []struct {
		name string
		edit func(*Telephony)
		key  string
	}{
		{"no public url", func(t *Telephony) { t.PublicURL = "" }, "telephony.public_url"},
		{"public url from a header is not a url", func(t *Telephony) { t.PublicURL = "parley.example.com" }, "telephony.public_url"},
		{"token variable unset", func(t *Telephony) { t.Twilio.AuthToken = "" }, "telephony.twilio.auth_token_env"},
		{"bad number", func(t *Telephony) { t.Numbers[0].To = "5551234" }, "telephony.numbers[0].to"},
		{"dtmf text without digits", func(t *Telephony) { t.DTMFText = "A key." }, "telephony.dtmf_text"},
		{"vad out of limits", func(t *Telephony) { t.VAD.MinSilence = 1 }, "telephony.vad.min_silence"},
		{"zero start timeout", func(t *Telephony) { t.StartTimeout = 0 }, "telephony.start_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *cfg
			c.Telephony.Numbers = append([]PhoneNumber(nil), cfg.Telephony.Numbers...)
			tc.edit(&c.Telephony)
			err := c.Validate()
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "got %v", err)
			assert.True(t, strings.Contains(err.Error(), tc.key), "error %q names %s", err, tc.key)
		})
	}
	off := Default()
	off.Telephony.PublicURL = ""
	assert.NoError(t, off.Validate(), "nothing is checked while telephony is off")
}
