package providerhttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxSSELine bounds one line of an event stream.
const maxSSELine = 1 << 20

// ErrLineTooLong is returned when an event stream line exceeds the limit.
var ErrLineTooLong = errors.New("sse: line too long")

// Event is one Server-Sent Event. Event is empty when the stream gave no
// `event:` field; Data joins multiple `data:` lines with "\n".
type Event struct {
	Event string
	Data  []byte
	ID    string
}

// SSEReader reads events from a text/event-stream body as specified by the
// WHATWG HTML standard (§ 9.2 server-sent events): lines ending in LF, CR
// or CRLF, comment lines starting with ':', a blank line dispatches.
type SSEReader struct {
	sc *bufio.Scanner
}

// NewSSEReader returns a reader over r.
func NewSSEReader(r io.Reader) *SSEReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	sc.Split(scanLines)
	return &SSEReader{sc: sc}
}

// Next returns the next event. At the end of the stream it returns io.EOF
// if the stream ended on an event boundary and io.ErrUnexpectedEOF if an
// event was cut off.
func (r *SSEReader) Next() (Event, error) {
	var ev Event
	var data bytes.Buffer
	pending := false
	dataLines := 0
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if len(line) == 0 {
			if !pending {
				continue
			}
			ev.Data = bytes.Clone(data.Bytes())
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Event = string(value)
			pending = true
		case "data":
			if dataLines > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
			dataLines++
			pending = true
		case "id":
			ev.ID = string(value)
		}
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Event{}, ErrLineTooLong
		}
		return Event{}, fmt.Errorf("sse: %w", err)
	}
	if pending {
		return Event{}, io.ErrUnexpectedEOF
	}
	return Event{}, io.EOF
}

// scanLines splits on LF, CRLF or a lone CR.
func scanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	for i, c := range data {
		switch c {
		case '\n':
			return i + 1, data[:i], nil
		case '\r':
			if i+1 < len(data) {
				if data[i+1] == '\n' {
					return i + 2, data[:i], nil
				}
				return i + 1, data[:i], nil
			}
			if atEOF {
				return i + 1, data[:i], nil
			}
			return 0, nil, nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
