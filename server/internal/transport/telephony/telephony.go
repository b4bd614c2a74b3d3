// Package telephony answers phone calls: Twilio's voice webhook (TwiML
// that connects the call to a bidirectional Media Stream, signatures
// verified) and the Media Stream WebSocket itself, whose G.711 audio,
// marks, clears and DTMF it connects to a session through
// protocol/mediastream. The session, VAD, turn-taking and plugins are the
// same as for browsers.
package telephony

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/protocol/mediastream"
	"github.com/parleyhq/parley/server/internal/session"
)

// Routes.
const (
	// PathTwilioVoice answers Twilio's voice webhook.
	PathTwilioVoice = "/v1/telephony/twilio/voice"
	// PathTwilioMedia is the Media Stream WebSocket.
	PathTwilioMedia = "/v1/telephony/twilio/media"
)

// tokenKeyBytes is the size of a per-process token key.
const tokenKeyBytes = 32

// Handler serves the telephony routes.
type Handler struct {
	cfg     config.Telephony
	ws      config.WebSocket
	mgr     *session.Manager
	log     *slog.Logger
	clock   clock.Clock
	tokens  tokenSigner
	dialect mediastream.Dialect
	client  *http.Client
	metrics *metrics
	numbers map[string]config.PhoneNumber
}

// New builds the handler. ws supplies the send buffer and write timeout
// of the stream WebSocket; client makes Twilio REST calls (rest_hangup);
// reg may be nil.
func New(cfg config.Telephony, ws config.WebSocket, mgr *session.Manager, client *http.Client,
	reg prometheus.Registerer, logger *slog.Logger,
) (*Handler, error) {
	if mgr == nil {
		return nil, errors.New("telephony: session manager is nil")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		client = http.DefaultClient
	}
	secret := []byte(cfg.Twilio.AuthToken)
	if len(secret) == 0 {
		// Without an account token, tokens are only valid on this process.
		secret = make([]byte, tokenKeyBytes)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("telephony: token key: %w", err)
		}
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg, ws: ws, mgr: mgr, log: logger.With("component", "telephony"), clock: mgr.Clock(),
		tokens: newTokenSigner(secret), dialect: mediastream.Twilio{}, client: client, metrics: met,
		numbers: make(map[string]config.PhoneNumber, len(cfg.Numbers)),
	}
	for _, n := range cfg.Numbers {
		h.numbers[n.To] = n
	}
	return h, nil
}

// Routes mounts the webhook and the media stream. They authenticate
// themselves (signatures, stream tokens): mount them outside the API-key
// group.
func (h *Handler) Routes(r chi.Router) {
	r.Post(PathTwilioVoice, h.serveVoice)
	r.Get(PathTwilioMedia, h.serveMedia)
}

// publicURL is the configured base URL without a trailing slash.
func (h *Handler) publicURL() string { return strings.TrimRight(h.cfg.PublicURL, "/") }
