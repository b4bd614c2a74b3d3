package telephony

import (
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/server/internal/httpapi"
)

// Webhook limits and the stream parameters the TwiML carries.
const (
	// maxWebhookBytes bounds the webhook's form body (Twilio's are < 4 KiB).
	maxWebhookBytes = 64 << 10
	paramToken      = "token"
	paramFrom       = "from"
	paramTo         = "to"
	paramCallSID    = "call_sid"
	// Outcomes of a webhook request (metric label values).
	outcomeAnswered     = "answered"
	outcomeBadSignature = "bad_signature"
	outcomeBadRequest   = "bad_request"
)

// twiML is the webhook's answer: connect the call to a bidirectional
// stream, then hang up when the stream ends (the agent said goodbye, or
// the stream closed).
type twiML struct {
	XMLName xml.Name `xml:"Response"`
	Connect struct {
		Stream struct {
			URL    string       `xml:"url,attr"`
			Params []twimlParam `xml:"Parameter"`
		} `xml:"Stream"`
	} `xml:"Connect"`
	Hangup struct{} `xml:"Hangup"`
}

type twimlParam struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// serveVoice answers Twilio's voice webhook (POST, form-encoded: CallSid,
// From, To, …) with TwiML that streams the call to PathTwilioMedia.
func (h *Handler) serveVoice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBytes)
	if err := r.ParseForm(); err != nil {
		h.metrics.webhook.WithLabelValues(h.dialect.Name(), outcomeBadRequest).Inc()
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", "the webhook body must be a form", nil)
		return
	}
	if token := h.cfg.Twilio.AuthToken; token != "" {
		// The URL Twilio signed is the one it was configured with: ours,
		// from config, plus the path and query it called.
		signed := h.publicURL() + r.URL.RequestURI()
		if !validTwilioSignature(token, signed, r.PostForm, r.Header.Get(HeaderTwilioSignature)) {
			h.metrics.webhook.WithLabelValues(h.dialect.Name(), outcomeBadSignature).Inc()
			h.log.Warn("twilio webhook signature missing or wrong", "remote_ip", r.RemoteAddr)
			httpapi.WriteError(w, http.StatusForbidden, "invalid_signature", "missing or invalid X-Twilio-Signature", nil)
			return
		}
	}
	callSID, from, to := r.PostForm.Get("CallSid"), r.PostForm.Get("From"), r.PostForm.Get("To")
	if callSID == "" {
		h.metrics.webhook.WithLabelValues(h.dialect.Name(), outcomeBadRequest).Inc()
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", "CallSid is required", map[string]string{"field": "CallSid"})
		return
	}
	var resp twiML
	resp.Connect.Stream.URL = streamURL(h.publicURL()) + PathTwilioMedia
	exp := h.clock.Now().Add(h.cfg.TokenTTL)
	resp.Connect.Stream.Params = []twimlParam{
		{Name: paramToken, Value: h.tokens.sign(callSID, from, to, exp)},
		{Name: paramCallSID, Value: callSID},
		{Name: paramFrom, Value: from},
		{Name: paramTo, Value: to},
	}
	body, err := xml.Marshal(resp)
	if err != nil {
		httpapi.WriteError(w, http.StatusInternalServerError, httpapi.CodeInternal, "could not build TwiML", nil)
		return
	}
	h.metrics.webhook.WithLabelValues(h.dialect.Name(), outcomeAnswered).Inc()
	h.log.Info("answering call", "call_sid", callSID, "from", from, "to", to)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

// streamURL turns the public http(s) base URL into the ws(s) one.
func streamURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(base, "http://")
}
