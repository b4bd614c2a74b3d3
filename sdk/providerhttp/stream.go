package providerhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// Draining a response after its final event.
const (
	drainLimit   = 4 << 10
	drainTimeout = time.Second
)

// StreamTimeouts bound one streamed request. Each must be positive.
type StreamTimeouts struct {
	// Request bounds the whole request, from dial to the final event.
	Request time.Duration
	// FirstByte bounds the wait for the response headers and first event.
	FirstByte time.Duration
	// Idle bounds the wait for each later event. Time the handler spends
	// on an event (the consumer taking it) does not count.
	Idle time.Duration
}

// SSERequest is one POST whose response is a Server-Sent Events stream,
// as LLM providers answer streamed generations.
type SSERequest struct {
	// URL is the endpoint.
	URL string
	// Body is the JSON request body.
	Body []byte
	// Header holds extra headers (credentials, API version);
	// Content-Type and Accept are set for JSON in, events out.
	Header http.Header
	// Timeouts bound the request.
	Timeouts StreamTimeouts
	// EndWithoutDone, when set, is called if the stream ends cleanly
	// before the handler reported its final event: nil accepts what was
	// received as complete (some servers omit their terminator); an error
	// goes through ErrorFromTransport (return io.ErrUnexpectedEOF for a
	// truncated stream). When unset, such an end is a truncated stream.
	EndWithoutDone func() error
}

// PostSSE sends req with client and passes each event of the response to
// handle until handle reports done. Provider failures come back as
// *sdk.Error: non-2xx statuses through ErrorFromResponse, transport
// failures and the timeouts (ErrRequestTimeout, ErrFirstByteTimeout,
// ErrIdleTimeout) through ErrorFromRequest. An error from handle is
// returned unchanged, unless ctx is done: then it is the caller's
// cancellation. After the final event the rest of the body is read
// (bounded) so that the connection returns to the pool and the next
// request skips the TCP and TLS handshakes.
func PostSSE(ctx context.Context, client *http.Client, provider string, req SSERequest, handle func(Event) (done bool, err error)) error {
	reqCtx, cancel := context.WithTimeoutCause(ctx, req.Timeouts.Request, ErrRequestTimeout)
	defer cancel()
	reqCtx, wd := NewWatchdog(reqCtx, req.Timeouts.FirstByte, ErrFirstByteTimeout)
	defer wd.Stop()

	httpReq, err := http.NewRequestWithContext(reqCtx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return sdk.Errorf(sdk.CodeInternal, "%s: build request: %s", provider, err.Error())
	}
	for k, v := range req.Header {
		httpReq.Header[k] = v
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", "text/event-stream")

	resp, err := client.Do(httpReq)
	if err != nil {
		return ErrorFromRequest(ctx, reqCtx, provider, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return ErrorFromResponse(provider, resp)
	}

	sse := NewSSEReader(resp.Body)
	for done := false; !done; {
		ev, err := sse.Next()
		if errors.Is(err, io.EOF) && req.EndWithoutDone != nil {
			if err := req.EndWithoutDone(); err != nil {
				return ErrorFromTransport(ctx, provider, err)
			}
			return nil
		}
		if err != nil {
			return ErrorFromRequest(ctx, reqCtx, provider, fmt.Errorf("read stream: %w", err))
		}
		wd.Pause()
		done, err = handle(ev)
		if err != nil {
			if ctx.Err() != nil {
				return ErrorFromTransport(ctx, provider, err)
			}
			return err
		}
		wd.Arm(req.Timeouts.Idle, ErrIdleTimeout)
	}
	// A server that keeps the response open after its final event is cut
	// off after drainTimeout.
	wd.Arm(drainTimeout, ErrIdleTimeout)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	return nil
}
