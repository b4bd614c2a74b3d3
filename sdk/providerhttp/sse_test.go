package providerhttp

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readAll(t *testing.T, in string) ([]Event, error) {
	t.Helper()
	r := NewSSEReader(strings.NewReader(in))
	var evs []Event
	for {
		ev, err := r.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Event
		wantErr error
	}{
		{
			name:    "anthropic style named events",
			in:      "event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n",
			want:    []Event{{Event: "message_start", Data: []byte(`{"a":1}`)}, {Event: "ping", Data: []byte(`{}`)}},
			wantErr: io.EOF,
		},
		{
			name:    "openai style data only with CRLF and comment",
			in:      ": keep-alive\r\ndata: {\"x\":2}\r\n\r\ndata: [DONE]\r\n\r\n",
			want:    []Event{{Data: []byte(`{"x":2}`)}, {Data: []byte(`[DONE]`)}},
			wantErr: io.EOF,
		},
		{
			name:    "multi-line data joined with LF, no space after colon, id kept",
			in:      "id: 7\ndata:line1\ndata: line2\n\n",
			want:    []Event{{ID: "7", Data: []byte("line1\nline2")}},
			wantErr: io.EOF,
		},
		{
			name:    "empty first data line still joins",
			in:      "data:\ndata: b\n\n",
			want:    []Event{{Data: []byte("\nb")}},
			wantErr: io.EOF,
		},
		{
			name:    "lone CR line endings",
			in:      "data: a\r\rdata: b\r\r",
			want:    []Event{{Data: []byte("a")}, {Data: []byte("b")}},
			wantErr: io.EOF,
		},
		{
			name:    "cut off mid event",
			in:      "data: {\"x\":2}\n\ndata: {\"trunc",
			want:    []Event{{Data: []byte(`{"x":2}`)}},
			wantErr: io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.in)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSSEReaderLineTooLong(t *testing.T) {
	_, err := readAll(t, "data: "+strings.Repeat("x", maxSSELine+1)+"\n\n")
	assert.True(t, errors.Is(err, ErrLineTooLong), "got %v", err)
}

func FuzzSSEReader(f *testing.F) {
	f.Add("event: a\ndata: b\n\n")
	f.Add("data: [DONE]\r\n\r\n")
	f.Add(":\r\r\ndata")
	f.Fuzz(func(t *testing.T, in string) {
		r := NewSSEReader(strings.NewReader(in))
		for range len(in) + 1 {
			if _, err := r.Next(); err != nil {
				return
			}
		}
		t.Fatalf("more events than input bytes for %q", in)
	})
}
