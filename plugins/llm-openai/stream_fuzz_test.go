package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
)

// FuzzDecoder feeds arbitrary event streams to the decoder: it must never
// panic, every failure must be a typed *sdk.Error, and every event it emits
// must hold exactly one of TextDelta, ToolCall (with valid JSON) or Done.
func FuzzDecoder(f *testing.F) {
	for _, fixture := range []string{"text.sse", "tool_calls.sse"} {
		f.Add(strings.Join(sseEvents(f, fixture), ""))
	}
	f.Add("data: {\"error\":{\"message\":\"x\",\"code\":503}}\n\n")
	f.Add("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":-1,\"function\":{\"name\":\"f\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		dec := newDecoder(func(ev sdk.GenerateEvent) error {
			set := 0
			if ev.TextDelta != "" {
				set++
			}
			if ev.ToolCall != nil {
				set++
				if !jsonValid(ev.ToolCall.Arguments) {
					t.Fatalf("tool call with invalid JSON arguments %q", ev.ToolCall.Arguments)
				}
			}
			if ev.Done != nil {
				set++
			}
			if set != 1 {
				t.Fatalf("event with %d parts set: %+v", set, ev)
			}
			return nil
		})
		r := providerhttp.NewSSEReader(strings.NewReader(stream))
		for !dec.finished() {
			ev, err := r.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, providerhttp.ErrLineTooLong) {
					t.Fatalf("unexpected reader error %v", err)
				}
				return
			}
			if err := dec.handle(ev); err != nil {
				var e *sdk.Error
				if !errors.As(err, &e) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
				return
			}
		}
	})
}
