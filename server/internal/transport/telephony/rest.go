package telephony

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// REST call limits.
const (
	// maxRESTBody bounds what is read of a Twilio REST answer.
	maxRESTBody = 64 << 10
	// hangupTimeout bounds the REST call that completes a call.
	hangupTimeout = 10 * time.Second
)

// hangup completes the call through Twilio's REST API (Calls resource,
// Status=completed), after the agent ended the session.
func (h *Handler) hangup(ctx context.Context, accountSID, callSID string, log *slog.Logger) {
	if err := h.completeCall(ctx, accountSID, callSID); err != nil {
		log.Warn("could not complete the call through Twilio's REST API", "error", err)
		return
	}
	log.Info("call completed through Twilio's REST API")
}

func (h *Handler) completeCall(parent context.Context, accountSID, callSID string) error {
	ctx, cancel := context.WithTimeout(parent, hangupTimeout)
	defer cancel()
	u := strings.TrimRight(h.cfg.Twilio.APIBaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(accountSID) +
		"/Calls/" + url.PathEscape(callSID) + ".json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(url.Values{"Status": {"completed"}}.Encode()))
	if err != nil {
		return fmt.Errorf("telephony: rest: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(accountSID, h.cfg.Twilio.AuthToken)
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("telephony: rest: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRESTBody))
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return fmt.Errorf("telephony: rest: HTTP %d", resp.StatusCode)
	}
	return nil
}
