package telephony

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// tokenPurpose separates stream-token MACs from any other use of the key.
const tokenPurpose = "parley telephony stream token v1"

// tokenSigner makes and checks the stream token the webhook puts in the
// TwiML: it binds the call and its numbers to an expiry, so only streams
// set up by a (signed) webhook answer start sessions.
type tokenSigner struct{ key []byte }

func newTokenSigner(secret []byte) tokenSigner {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(tokenPurpose))
	return tokenSigner{key: mac.Sum(nil)}
}

func (s tokenSigner) mac(callSID, from, to string, exp int64) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, part := range []string{callSID, from, to, strconv.FormatInt(exp, 10)} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// sign returns the token for a call, valid until exp.
func (s tokenSigner) sign(callSID, from, to string, exp time.Time) string {
	e := exp.Unix()
	return strconv.FormatInt(e, 10) + "." + base64.RawURLEncoding.EncodeToString(s.mac(callSID, from, to, e))
}

// verify reports whether token was made by sign for these values and has
// not expired at now.
func (s tokenSigner) verify(token, callSID, from, to string, now time.Time) bool {
	es, sig, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	e, err := strconv.ParseInt(es, 10, 64)
	if err != nil || now.Unix() > e {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.mac(callSID, from, to, e))
}
