package parleyv1

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Path is where a Parley server serves parley.v1 over WebSocket.
const Path = "/ws/voice"

// ErrBadURL is returned by VoiceURL for a URL that is neither a server's
// base URL nor a WebSocket endpoint.
var ErrBadURL = errors.New("parleyv1: want an http(s):// base URL or a ws(s):// endpoint")

// VoiceURL returns the WebSocket URL of a server's parley.v1 endpoint, for
// clients (load tests, evals): an http(s) base URL gets Path appended to
// its path (a proxy's prefix stays; the query goes), a ws(s) URL is the
// endpoint itself (Path when it has none).
func VoiceURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	switch u.Scheme {
	case "http", "https":
		u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
		u.Path = strings.TrimSuffix(u.Path, "/") + Path
		u.RawQuery = ""
	case "ws", "wss":
		if u.Path == "" || u.Path == "/" {
			u.Path = Path
		}
	default:
		return "", fmt.Errorf("%w: %q", ErrBadURL, base)
	}
	return u.String(), nil
}
