package session

import "errors"

// ErrSessionLimit is returned by Manager.Reserve when the global number of
// sessions (config.Session.MaxSessions) is reached.
var ErrSessionLimit = errors.New("session: server session limit reached")

// ErrIPLimit is returned by Manager.Reserve when the client IP already holds
// config.Session.MaxSessionsPerIP sessions.
var ErrIPLimit = errors.New("session: per-client-IP session limit reached")

// ErrOverloaded is returned by Manager.Reserve when the memory guard reports
// overload.
var ErrOverloaded = errors.New("session: server overloaded")

// ErrDraining is returned by Manager.Reserve once Drain has started.
var ErrDraining = errors.New("session: server is draining")

// ErrReservationUsed is returned by Manager.Start for a reservation that was
// already started or released.
var ErrReservationUsed = errors.New("session: reservation already used")

// ErrSendBufferFull is what a Conn returns when its bounded send buffer is
// full: the client does not read fast enough and the session ends.
var ErrSendBufferFull = errors.New("session: send buffer full")

// ErrConnClosed is what a Conn returns once it is closed.
var ErrConnClosed = errors.New("session: connection closed")

// ErrInvalidExpression is returned by the calculator for input it cannot
// evaluate (syntax, division by zero, limits).
var ErrInvalidExpression = errors.New("session: invalid expression")
