package loadtest

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Resolver looks a host name up (net.Resolver implements it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckTarget refuses a base URL whose host is not loopback unless
// allowRemote: an IP literal must be a loopback address, and a name must
// resolve, every address of it being loopback (a name with one public
// address among loopback ones is refused too).
func CheckTarget(ctx context.Context, rawURL string, allowRemote bool, r Resolver) error {
	if allowRemote {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: --url %q: %w", ErrInvalidConfig, rawURL, err)
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Unmap().IsLoopback() {
			return refuse(host, "")
		}
		return nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return refuse(host, "does not resolve ("+err.Error()+")")
	}
	if len(addrs) == 0 {
		return refuse(host, "has no address")
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return refuse(host, "resolves to "+a.String())
		}
	}
	return nil
}

func refuse(host, why string) error {
	if why != "" {
		why = " " + why
	}
	return fmt.Errorf("%w: %s%s (use --allow-remote to load a remote server)", ErrRemoteTarget, host, why)
}
