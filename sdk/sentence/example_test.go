package sentence_test

import (
	"fmt"

	"github.com/parleyhq/parley/sdk/sentence"
)

func ExampleSplitter() {
	var sp sentence.Splitter
	var spans []sentence.Span
	for _, delta := range []string{"Hello Dr. Smith", ". Pi is 3.", "14! And then"} {
		spans = append(spans, sp.Add(delta)...)
	}
	spans = append(spans, sp.Flush()...)
	for _, s := range spans {
		fmt.Printf("%q [%d,%d)\n", s.Text, s.Start, s.End)
	}
	// Output:
	// "Hello Dr. Smith." [0,16)
	// "Pi is 3.14!" [16,28)
	// "And then" [28,37)
}
