package loadtest

import "errors"

// ErrInvalidConfig is returned by Config.Validate for a setting out of its
// range; the message names the flag and the bad value.
var ErrInvalidConfig = errors.New("loadtest: invalid configuration")

// ErrRemoteTarget refuses a target whose host is not (or does not resolve
// only to) loopback addresses while Config.AllowRemote is off.
var ErrRemoteTarget = errors.New("loadtest: target is not a loopback address")

// ErrHandshake is a session whose server did not open with
// connection_established.
var ErrHandshake = errors.New("loadtest: unexpected handshake")
