package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.10.0.1:8080", true},
		{"[::1]:8080", true},
		{"localhost:8080", true},
		{"LocalHost:0", true},
		{"[::ffff:127.0.0.1]:80", true},
		{":8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"10.1.2.3:8080", false},
		{"parley.example.com:443", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			assert.Equal(t, tt.want, IsLoopbackAddr(tt.addr))
		})
	}
}

// TestOpenServerRefused: a non-loopback listener without client API keys
// is refused with a message naming what to set, unless anonymous access is
// explicit.
func TestOpenServerRefused(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		refused bool
	}{
		{"loopback default", nil, false},
		{"all interfaces, no keys", []string{"PARLEY_HTTP__ADDR=0.0.0.0:18999"}, true},
		{"empty host, no keys", []string{"PARLEY_HTTP__ADDR=:18999"}, true},
		{"all interfaces with API keys", []string{"PARLEY_HTTP__ADDR=0.0.0.0:18999", "PARLEY_AUTH__API_KEYS=k1,k2"}, false},
		{"all interfaces, anonymous on purpose", []string{"PARLEY_HTTP__ADDR=0.0.0.0:18999", "PARLEY_AUTH__ALLOW_ANONYMOUS=true"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadWith(Options{Environ: func() []string { return tt.env }})
			if !tt.refused {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "http.addr", fe.Key)
			for _, want := range []string{"auth.api_keys", "PARLEY_AUTH__API_KEYS", "auth.allow_anonymous", "PARLEY_AUTH__ALLOW_ANONYMOUS", "loopback"} {
				assert.Contains(t, err.Error(), want)
			}
			assert.Nil(t, cfg)
		})
	}
}

func TestOpenToAnyone(t *testing.T) {
	cfg := Default()
	assert.False(t, cfg.OpenToAnyone(), "the default listens on loopback")
	cfg.HTTP.Addr = "0.0.0.0:8080"
	cfg.Auth.AllowAnonymous = true
	assert.True(t, cfg.OpenToAnyone(), "allowed, but still open: the server warns")
	require.NoError(t, cfg.Validate())
	cfg.Auth.APIKeys = []string{"k"}
	assert.False(t, cfg.OpenToAnyone())
}

func TestTLSValidation(t *testing.T) {
	dir := t.TempDir()
	cert := writeFile(t, dir, "cert.pem", "x")
	key := writeFile(t, dir, "key.pem", "x")
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name    string
		tls     TLS
		wantKey string
	}{
		{"off", TLS{}, ""},
		{"cert and key", TLS{CertFile: cert, KeyFile: key}, ""},
		{"with client CA", TLS{CertFile: cert, KeyFile: key, ClientCAFile: cert}, ""},
		{"cert without key", TLS{CertFile: cert}, "http.tls.key_file"},
		{"key without cert", TLS{KeyFile: key}, "http.tls.cert_file"},
		{"missing cert file", TLS{CertFile: missing, KeyFile: key}, "http.tls.cert_file"},
		{"client CA without TLS", TLS{ClientCAFile: cert}, "http.tls.client_ca_file"},
		{"missing client CA", TLS{CertFile: cert, KeyFile: key, ClientCAFile: missing}, "http.tls.client_ca_file"},
		{"negative reload interval", TLS{CertFile: cert, KeyFile: key, ReloadInterval: -1}, "http.tls.reload_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.HTTP.TLS = tt.tls
			err := cfg.Validate()
			if tt.wantKey == "" {
				require.NoError(t, err)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.wantKey, fe.Key, "%v", err)
		})
	}
}
