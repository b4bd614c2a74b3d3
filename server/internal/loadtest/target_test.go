package loadtest

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

// fakeResolver answers every name with addrs (or err).
type fakeResolver struct {
	addrs []netip.Addr
	err   error
}

func (f fakeResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return f.addrs, f.err
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(s))
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestCheckTarget(t *testing.T) {
	loop := fakeResolver{addrs: addrs("127.0.0.1", "::1")}
	tests := []struct {
		name   string
		url    string
		remote bool
		r      fakeResolver
		ok     bool
	}{
		{"ipv4 loopback", "http://127.0.0.1:8080", false, fakeResolver{}, true},
		{"other 127/8", "http://127.3.4.5:8080", false, fakeResolver{}, true},
		{"ipv6 loopback", "http://[::1]:8080", false, fakeResolver{}, true},
		{"v4-mapped loopback", "http://[::ffff:127.0.0.1]:8080", false, fakeResolver{}, true},
		{"public ipv4", "http://192.0.2.10:8080", false, fakeResolver{}, false},
		{"private ipv4", "https://10.0.0.5", false, fakeResolver{}, false},
		{"unspecified", "http://0.0.0.0:8080", false, fakeResolver{}, false},
		{"public ipv6", "http://[2001:db8::1]:8080", false, fakeResolver{}, false},
		{"public with allow-remote", "http://192.0.2.10:8080", true, fakeResolver{}, true},
		{"name resolving to loopback", "http://localhost:8080", false, loop, true},
		{"name with one public address", "http://parley.example:8080", false,
			fakeResolver{addrs: addrs("127.0.0.1", "203.0.113.5")}, false},
		{"name that does not resolve", "http://nowhere.example", false, fakeResolver{err: errors.New("no such host")}, false},
		{"name with no address", "http://empty.example", false, fakeResolver{}, false},
		{"remote name with allow-remote", "http://parley.example", true, fakeResolver{err: errors.New("not asked")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTarget(t.Context(), tt.url, tt.remote, tt.r)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrRemoteTarget)
			assert.Contains(t, err.Error(), "--allow-remote")
		})
	}
}

func TestVoiceURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":       "ws://127.0.0.1:8080/ws/voice",
		"https://127.0.0.1:8443/":     "wss://127.0.0.1:8443/ws/voice",
		"http://127.0.0.1:8080/p?x=1": "ws://127.0.0.1:8080/p/ws/voice",
	} {
		got, err := parleyv1.VoiceURL(in)
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
}
