package main

import (
	"strings"
	"testing"

	"github.com/parleyhq/parley/sdk"
)

func FuzzToArithmetic(f *testing.F) {
	for _, s := range []string{"seven times six", "one hundred and five minus a thousand", "three point", "add 1 and", "- - -", "forty-two x (3"} {
		f.Add(s)
	}
	a := newArithmetic()
	f.Fuzz(func(t *testing.T, text string) {
		expr, ok := a.toArithmetic(text)
		if !ok {
			return
		}
		if strings.IndexFunc(expr, func(r rune) bool { return !strings.ContainsRune("0123456789.+-*/%^()", r) }) >= 0 {
			t.Fatalf("%q gave non-arithmetic %q", text, expr)
		}
		_, _ = Eval(expr)
	})
}

// FuzzRespond feeds arbitrary user text (and a history) through the default
// rules: the agent must always answer, with text or a well-formed call.
func FuzzRespond(f *testing.F) {
	for _, s := range []string{"hello", "what is seven times six", "my name is ", "repeat that", "what time is it", "calculate ((((", "bye"} {
		f.Add(s, "earlier words")
	}
	rs, err := defaultRules()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text, earlier string) {
		req := sdk.GenerateRequest{
			Messages: []sdk.Message{user(earlier), assistant(earlier), user(text)},
			Tools:    parleyTools(),
		}
		for _, r := range []sdk.GenerateRequest{req, {Messages: req.Messages}} {
			out, err := respond(rs, r)
			if err != nil {
				t.Fatalf("respond(%q): %v", text, err)
			}
			if out.text == "" && out.call == nil {
				t.Fatalf("no answer to %q", text)
			}
			if out.call != nil && out.call.ID == "" {
				t.Fatalf("call without id for %q", text)
			}
		}
	})
}
