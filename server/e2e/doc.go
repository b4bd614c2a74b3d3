// Package e2e holds Parley's end-to-end tests: the real server binary, the
// real offline plugin binaries and the shipped configuration, driven over
// /ws/voice by a real WebSocket client. It has no non-test code.
package e2e
