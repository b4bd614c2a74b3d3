package pluginhost

import "errors"

// ErrChecksumMismatch is returned (wrapped, naming the plugin, the pinned
// and the actual sha256) when a plugin binary does not match its pin.
var ErrChecksumMismatch = errors.New("plugin binary sha256 does not match the pinned checksum")

// ErrProtocolVersion is returned (wrapped, naming both versions) when a
// plugin speaks a plugin protocol version this Parley does not.
var ErrProtocolVersion = errors.New("incompatible plugin protocol version")

// ErrStartTimeout is returned (wrapped) when a plugin did not complete the
// go-plugin handshake within its start timeout.
var ErrStartTimeout = errors.New("plugin did not start in time")

// ErrKindMismatch is returned (wrapped) when a plugin serves another kind
// than its configuration says.
var ErrKindMismatch = errors.New("plugin kind does not match its configuration")

// ErrUnknownPlugin is returned by New when the pipeline names an instance
// that is not configured, or one of another kind.
var ErrUnknownPlugin = errors.New("pipeline names an unknown plugin instance")

// ErrInvalidConfig is returned by New for plugin settings it cannot use
// (duplicate names, a malformed sha256, settings that are not JSON).
var ErrInvalidConfig = errors.New("invalid plugin configuration")

// ErrNotStarted is returned when a Host is used before Start succeeded or
// started twice.
var ErrNotStarted = errors.New("plugin host not started")

// ErrFirstOutputTimeout is wrapped (in an sdk.Error with code
// deadline_exceeded, naming the plugin) when a call was accepted but gave
// no output within resilience.first_output for its kind. The call is not
// retried on the same instance — it is likely hung — but falls back.
var ErrFirstOutputTimeout = errors.New("plugin gave no output in time")

// ErrClosed is returned by Generations.Promote after Close (the server is
// shutting down).
var ErrClosed = errors.New("plugin generations closed")
