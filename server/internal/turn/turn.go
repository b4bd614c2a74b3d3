// Package turn issues time-limited TURN credentials in the "TURN REST API"
// scheme (draft-uberti-behave-turn-rest-00) that coturn implements with
// use-auth-secret and static-auth-secret: the username is
// "<expiry as Unix seconds>:<user>" and the password is the base64 of the
// HMAC-SHA1 of that username under the secret Parley shares with the TURN
// server. The TURN server checks the HMAC and refuses the username once its
// expiry has passed, so a credential handed to a browser stops working on
// its own and the secret itself never leaves Parley.
package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // SHA-1 is what the TURN REST API scheme and coturn specify for the HMAC.
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Separator joins the expiry and the user in a username (coturn's default
// rest-api-separator).
const Separator = ":"

// ErrNoSecret is returned when the shared secret is empty.
var ErrNoSecret = errors.New("turn: the shared secret is empty")

// ErrBadTTL is returned for a lifetime under one second.
var ErrBadTTL = errors.New("turn: the credential lifetime must be at least 1s")

// ErrBadUser is returned for a user part that is empty or contains the
// separator (the TURN server would read a different expiry).
var ErrBadUser = errors.New("turn: the user part must be non-empty and free of the separator (a colon)")

// Credential is one time-limited TURN username and password.
type Credential struct {
	// Username is "<expiry Unix seconds>:<user>".
	Username string
	// Password is base64(HMAC-SHA1(secret, Username)).
	Password string
	// ExpiresAt is when the TURN server stops accepting it (whole seconds).
	ExpiresAt time.Time
}

// Issue returns the credential for user valid from now for ttl, signed
// with secret. Errors never contain the secret.
func Issue(secret []byte, user string, now time.Time, ttl time.Duration) (Credential, error) {
	switch {
	case len(secret) == 0:
		return Credential{}, ErrNoSecret
	case ttl < time.Second:
		return Credential{}, fmt.Errorf("%w (got %s)", ErrBadTTL, ttl)
	case user == "" || strings.Contains(user, Separator):
		return Credential{}, fmt.Errorf("%w (got %q)", ErrBadUser, user)
	}
	expires := now.Add(ttl).Truncate(time.Second)
	name := strconv.FormatInt(expires.Unix(), 10) + Separator + user
	return Credential{Username: name, Password: Password(secret, name), ExpiresAt: expires}, nil
}

// Password is base64(HMAC-SHA1(secret, username)): what the TURN server
// computes to check a username.
func Password(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
