package tlsconf

import "errors"

// ErrCertificate is returned (wrapped, naming the files) when the
// certificate and key cannot be loaded or do not match.
var ErrCertificate = errors.New("tls: cannot load certificate")

// ErrClientCA is returned (wrapped, naming the file) when the client CA
// bundle cannot be read or holds no PEM certificate.
var ErrClientCA = errors.New("tls: cannot load client CA bundle")
