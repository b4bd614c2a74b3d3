// Package e2e holds Parley's end-to-end tests: the real server binary, the
// real offline plugin binaries and the shipped configuration, driven over
// /ws/voice by a real WebSocket client; and the fault suite (faults_*),
// which kills, freezes and stops plugin processes and the server under
// concurrent sessions, with testdata/simplugin as a cheap deterministic
// STT and LLM, and once with the real Deepgram, Anthropic and ElevenLabs
// plugins against local fakes of those APIs (providerfakes_test.go).
// TestSoak runs only under make soak (E2E_BIN_DIR runs it on prebuilt
// binaries, such as an older commit's). It has no non-test code.
package e2e
