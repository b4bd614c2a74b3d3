package main

import (
	"testing"

	"github.com/parleyhq/parley/sdk"
)

// BenchmarkRespond measures deciding one turn with the built-in rules.
func BenchmarkRespond(b *testing.B) {
	rs, err := defaultRules()
	if err != nil {
		b.Fatal(err)
	}
	cases := map[string]string{
		"greeting":   "hello there",
		"arithmetic": "what is twenty one times three",
		"fallback":   "blorp the flibber quantum",
	}
	for name, text := range cases {
		b.Run(name, func(b *testing.B) {
			req := sdk.GenerateRequest{Messages: []sdk.Message{user("my name is ada"), assistant("Hi Ada"), user(text)}, Tools: parleyTools()}
			for b.Loop() {
				if _, err := respond(rs, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
