// Package web holds Parley's browser client: the reusable client module
// (parley-client.js), its AudioWorklet processors and the demo page, embedded
// into the server binary with go:embed and served at "/".
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// static holds the files served to browsers. Only the listed patterns are
// embedded, so tests, README and Go sources never reach a browser.
//
//go:embed index.html app.js style.css parley-client.js worklets/*.js
var static embed.FS

// FS returns the browser client's files (index.html at the root).
func FS() fs.FS { return static }

// Handler serves the browser client's files; "/" serves index.html. Mount it
// at "/" (httpapi.Options.Web).
func Handler() http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page and its modules change with every release and are small:
		// revalidate instead of caching stale client code.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
