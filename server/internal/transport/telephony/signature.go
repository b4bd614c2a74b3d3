package telephony

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Twilio's request signature is HMAC-SHA1 by definition.
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// HeaderTwilioSignature carries Twilio's request signature.
const HeaderTwilioSignature = "X-Twilio-Signature"

// TwilioSignature computes Twilio's request signature
// (https://www.twilio.com/docs/usage/security#validating-requests): the
// full URL, then each POST parameter's name and value in name order, with
// no separators, signed with HMAC-SHA1 under the account's auth token,
// base64-encoded.
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// validTwilioSignature compares in constant time.
func validTwilioSignature(authToken, fullURL string, params url.Values, got string) bool {
	if got == "" {
		return false
	}
	want := TwilioSignature(authToken, fullURL, params)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
