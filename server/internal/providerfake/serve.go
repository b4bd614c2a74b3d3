package providerfake

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout bounds the wait for open streams when Serve stops.
const shutdownTimeout = 5 * time.Second

// Handler serves the three fakes on one listener: their paths do not
// overlap (/v1/listen, /v1/messages, /v1/text-to-speech/), so each
// plugin's base_url is the same host and port (ws:// for Deepgram).
func (f *Fakes) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/listen", f.Deepgram())
	mux.Handle("/v1/messages", f.Anthropic())
	mux.Handle("/v1/text-to-speech/", f.ElevenLabs())
	return mux
}

// Serve serves Handler on ln until ctx ends, then stops the streams still
// open (within shutdownTimeout).
func (f *Fakes) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: f.Handler(), ReadHeaderTimeout: shutdownTimeout}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
