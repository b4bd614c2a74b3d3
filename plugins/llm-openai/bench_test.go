package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/providerhttp/providertest"
)

// BenchmarkDecode measures parsing the tool-calls fixture (two parallel
// tool calls, usage) from bytes to events, without network.
func BenchmarkDecode(b *testing.B) {
	stream := strings.Join(sseEvents(b, "tool_calls.sse"), "")
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		dec := newDecoder(func(sdk.GenerateEvent) error { return nil })
		r := providerhttp.NewSSEReader(strings.NewReader(stream))
		for !dec.finished() {
			ev, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			if err := dec.handle(ev); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkTurn measures one whole generation against the local fake over
// a pooled connection: request encoding, HTTP, SSE decoding and the
// stream hand-off to the consumer.
func BenchmarkTurn(b *testing.B) {
	f := providertest.NewServer(b, providertest.SSEHandler(sseEvents(b, "tool_calls.sse")...))
	f.DiscardRequests()
	p := newTestPlugin(b, f.URL, nil)
	req := sdk.GenerateRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "What is the weather in San Francisco?"}}}
	b.ReportAllocs()
	for b.Loop() {
		s, err := p.Generate(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
