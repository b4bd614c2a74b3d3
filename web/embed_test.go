package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name        string
		path        string
		status      int
		contentType string
		contains    string
	}{
		{name: "page at root", path: "/", status: http.StatusOK, contentType: "text/html", contains: `<script type="module" src="app.js">`},
		{name: "client module", path: "/parley-client.js", status: http.StatusOK, contentType: "text/javascript", contains: "export class ParleyClient"},
		{name: "capture worklet", path: "/worklets/capture.js", status: http.StatusOK, contentType: "text/javascript", contains: `registerProcessor("parley-capture"`},
		{name: "player worklet", path: "/worklets/player.js", status: http.StatusOK, contentType: "text/javascript", contains: `registerProcessor("parley-player"`},
		{name: "app", path: "/app.js", status: http.StatusOK, contentType: "text/javascript", contains: "window.parleyTest"},
		{name: "style", path: "/style.css", status: http.StatusOK, contentType: "text/css", contains: "@media"},
		{name: "go source not served", path: "/embed.go", status: http.StatusNotFound},
		{name: "readme not served", path: "/README.md", status: http.StatusNotFound},
		{name: "tests not served", path: "/e2e/e2e_test.go", status: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+tc.path, nil)
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status != http.StatusOK {
				return
			}
			assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType),
				"Content-Type %q, want %s (module scripts need a JavaScript MIME type)", resp.Header.Get("Content-Type"), tc.contentType)
			assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			assert.Contains(t, string(body), tc.contains)
		})
	}
}

// TestPageReferencesExist checks that every local file the page and the
// client module load is embedded.
func TestPageReferencesExist(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "style.css", "parley-client.js", "worklets/capture.js", "worklets/player.js"} {
		_, err := fs.Stat(FS(), name)
		assert.NoError(t, err, name)
	}
	client, err := fs.ReadFile(FS(), "parley-client.js")
	require.NoError(t, err)
	for _, ref := range []string{`"./worklets/capture.js"`, `"./worklets/player.js"`} {
		assert.Contains(t, string(client), ref)
	}
}
