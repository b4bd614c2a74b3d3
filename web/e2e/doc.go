// Package e2e holds Parley's browser end-to-end tests: headless Chromium,
// with a flite-generated WAV as its microphone, opens the web client against
// the real server binary and its offline plugins, over WebRTC and WebSocket.
// The package has no non-test code; run it with `go test ./web/e2e/`.
package e2e
