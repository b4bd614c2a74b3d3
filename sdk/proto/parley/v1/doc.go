// Package parleyv1 is the generated Go code for the Parley plugin protocol
// (the .proto files beside it): the STT, LLM and TTS gRPC services and
// their messages. Plugins written in Go use package sdk instead; plugins in
// other languages generate their own code from the same .proto files.
// Regenerate with `make proto` (sdk/proto/generate.sh).
package parleyv1
