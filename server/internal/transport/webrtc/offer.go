package webrtc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Media types of the signaling endpoints.
const (
	mimeSDP          = "application/sdp"
	mimeJSON         = "application/json"
	mimeTrickleFrag  = "application/trickle-ice-sdpfrag"
	opusRTPMapPrefix = "opus/48000"
)

// offerJSON is the JSON form of an offer or answer (RTCSessionDescriptionInit).
type offerJSON struct {
	SDP  string `json:"sdp"`
	Type string `json:"type"`
}

// answerJSON is the JSON answer to a JSON offer.
type answerJSON struct {
	SDP       string `json:"sdp"`
	Type      string `json:"type"`
	SessionID string `json:"session_id"`
}

// requestError is a signaling request refused with an HTTP status.
type requestError struct {
	status  int
	code    httpCode
	msg     string
	details map[string]string
	err     error
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.err }

func badRequest(status int, code httpCode, sentinel error, msg string, details map[string]string) *requestError {
	return &requestError{status: status, code: code, msg: msg, details: details, err: sentinel}
}

// readBody reads at most limit bytes of the request body (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *requestError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, badRequest(http.StatusRequestEntityTooLarge, codeOfferTooLarge, ErrBadOffer,
				"request body exceeds "+strconv.FormatInt(limit, 10)+" bytes",
				map[string]string{"max_bytes": strconv.FormatInt(limit, 10)})
		}
		return nil, badRequest(http.StatusBadRequest, codeInvalidSDP, ErrBadOffer, "reading the body: "+err.Error(), nil)
	}
	return body, nil
}

// mediaType returns the request's media type, lower case, without parameters.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// decodeOffer turns a request body of media type mt into SDP text and tells
// whether the client spoke JSON.
func decodeOffer(mt string, body []byte) (string, bool, *requestError) {
	switch mt {
	case mimeSDP:
		return string(body), false, nil
	case mimeJSON:
		var o offerJSON
		if err := json.Unmarshal(body, &o); err != nil {
			return "", true, badRequest(http.StatusBadRequest, codeInvalidSDP, ErrBadOffer, "invalid JSON offer: "+err.Error(), nil)
		}
		if o.Type != webrtc.SDPTypeOffer.String() {
			return "", true, badRequest(http.StatusBadRequest, codeInvalidSDP, ErrBadOffer,
				`JSON offer must have "type":"offer"`, map[string]string{"field": "type", "value": o.Type})
		}
		return o.SDP, true, nil
	}
	return "", false, badRequest(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, ErrBadOffer,
		"Content-Type must be application/sdp or application/json", map[string]string{"content_type": mt})
}

// offerInfo is what Parley needs to know about a valid offer.
type offerInfo struct {
	// dataChannel: the offer has an application m-line (the events channel).
	dataChannel bool
}

// checkOffer parses the SDP and checks that it offers an active audio
// m-line with Opus: 400 for SDP that does not parse, 422 for SDP without
// what a voice session needs.
func checkOffer(text string) (offerInfo, *requestError) {
	var sd sdp.SessionDescription
	if strings.TrimSpace(text) == "" {
		return offerInfo{}, badRequest(http.StatusBadRequest, codeInvalidSDP, ErrBadOffer, "empty SDP offer", nil)
	}
	if err := sd.UnmarshalString(text); err != nil {
		return offerInfo{}, badRequest(http.StatusBadRequest, codeInvalidSDP, ErrBadOffer,
			"SDP does not parse: "+err.Error(), map[string]string{"parse_error": err.Error()})
	}
	var info offerInfo
	audio, opus := false, false
	for _, m := range sd.MediaDescriptions {
		switch m.MediaName.Media {
		case "application":
			info.dataChannel = info.dataChannel || m.MediaName.Port.Value != 0
		case "audio":
			if m.MediaName.Port.Value == 0 {
				continue // a rejected m-line
			}
			audio = true
			opus = opus || offersOpus(m)
		}
	}
	if !audio {
		return info, badRequest(http.StatusUnprocessableEntity, codeUnsupportedOffer, ErrUnsupportedOffer,
			"the offer has no audio m-line", map[string]string{"missing": "audio m-line"})
	}
	if !opus {
		return info, badRequest(http.StatusUnprocessableEntity, codeUnsupportedOffer, ErrUnsupportedOffer,
			"the audio m-line does not offer Opus (opus/48000/2)", map[string]string{"missing": "opus"})
	}
	return info, nil
}

// offersOpus reports whether an audio m-line maps one of its formats to Opus.
func offersOpus(m *sdp.MediaDescription) bool {
	formats := map[string]bool{}
	for _, f := range m.MediaName.Formats {
		formats[f] = true
	}
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, codec, ok := strings.Cut(a.Value, " ")
		if ok && formats[pt] && strings.HasPrefix(strings.ToLower(codec), opusRTPMapPrefix) {
			return true
		}
	}
	return false
}

// parseTrickle reads the candidates of an SDP fragment
// (application/trickle-ice-sdpfrag, RFC 8840): a=candidate lines, each for
// the m-line named by the preceding a=mid (or the first m-line).
func parseTrickle(frag string) ([]webrtc.ICECandidateInit, error) {
	var out []webrtc.ICECandidateInit
	var mid *string
	var index uint16
	sawMedia := false
	for line := range strings.Lines(frag) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "m="):
			if sawMedia {
				index++
			}
			sawMedia, mid = true, nil
		case strings.HasPrefix(line, "a=mid:"):
			v := strings.TrimPrefix(line, "a=mid:")
			mid = &v
		case strings.HasPrefix(line, "a=candidate:"):
			c := strings.TrimPrefix(line, "a=")
			if len(strings.Fields(c)) < minCandidateFields {
				return nil, fmt.Errorf("%w: malformed candidate %q", ErrBadOffer, c)
			}
			idx := index
			out = append(out, webrtc.ICECandidateInit{Candidate: c, SDPMid: mid, SDPMLineIndex: &idx})
		}
	}
	return out, nil
}

// minCandidateFields is the number of fields of the shortest valid
// candidate attribute (foundation, component, transport, priority,
// address, port, "typ", type).
const minCandidateFields = 8
