// Package e2e holds Parley's end-to-end tests: the real server binary, the
// real offline plugin binaries and the shipped configuration, driven over
// /ws/voice by a real WebSocket client; and the fault suite (faults_*),
// which kills, freezes and stops plugin processes and the server under
// concurrent sessions, with testdata/simplugin as a cheap deterministic
// STT and LLM. TestSoak runs only under make soak. It has no non-test code.
package e2e
