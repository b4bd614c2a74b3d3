package webrtc

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// Codec and ICE settings.
const (
	// opusPayloadType is the dynamic payload type Parley offers for Opus
	// (the browsers' usual 111; answers follow the offer's number).
	opusPayloadType = 111
	// opusChannels is what RFC 7587 requires in the rtpmap (opus/48000/2).
	opusChannels = 2
	// opusFmtp asks the sender for in-band FEC (used on loss) and for DTX
	// (no packets in silence but one every 400 ms; see dtx.go).
	opusFmtp = "minptime=10;useinbandfec=1;usedtx=1"
	// maxICEKeepalive is the STUN keep-alive interval, shortened to half the
	// disconnected timeout when that is shorter.
	maxICEKeepalive = 2 * time.Second
	// opusRTPClock is the Opus RTP clock rate (RFC 7587).
	opusRTPClock = audio.OpusSampleRate
)

// newAPI builds the one pion API a handler shares by all its peers: an
// Opus-only media engine, RTCP sender/receiver reports, and the network
// settings of cfg. It returns the UDP mux it opened, if any.
func newAPI(cfg config.WebRTC, logger *slog.Logger) (*webrtc.API, *ice.MultiUDPMuxDefault, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: opusRTPClock, Channels: opusChannels, SDPFmtpLine: opusFmtp,
		},
		PayloadType: opusPayloadType,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, nil, fmt.Errorf("webrtc: register opus: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, nil, fmt.Errorf("webrtc: rtcp reports: %w", err)
	}

	se := webrtc.SettingEngine{LoggerFactory: slogFactory{log: logger}}
	keepalive := maxICEKeepalive
	if half := cfg.DisconnectedTimeout / 2; half > 0 && half < keepalive {
		keepalive = half
	}
	se.SetICETimeouts(cfg.DisconnectedTimeout, cfg.FailedTimeout, keepalive)
	// mDNS would open a multicast socket per peer; a server has real
	// addresses to offer instead.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	// Data channels are read by the peer's own loop (readEvents) with a
	// small buffer grown only for a long message: pion's read loop holds
	// 64 KiB per channel for the session's whole life.
	se.DetachDataChannels()
	var ifFilter func(string) bool
	if len(cfg.Interfaces) > 0 {
		names := slices.Clone(cfg.Interfaces)
		ifFilter = func(name string) bool { return slices.Contains(names, name) }
		se.SetInterfaceFilter(ifFilter)
	}
	if len(cfg.NAT1To1IPs) > 0 {
		// Host candidates are announced with the public addresses instead.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: slices.Clone(cfg.NAT1To1IPs), AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return nil, nil, fmt.Errorf("webrtc: nat_1to1_ips %v: %w", cfg.NAT1To1IPs, err)
		}
	}
	if cfg.UDPPortMin > 0 || cfg.UDPPortMax > 0 {
		if err := se.SetEphemeralUDPPortRange(uint16(cfg.UDPPortMin), uint16(cfg.UDPPortMax)); err != nil { //nolint:gosec // validated as ports by config.
			return nil, nil, fmt.Errorf("webrtc: udp port range %d-%d: %w", cfg.UDPPortMin, cfg.UDPPortMax, err)
		}
	}
	var mux *ice.MultiUDPMuxDefault
	if cfg.UDPMuxPort > 0 {
		opts := []ice.UDPMuxFromPortOption{
			ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4, ice.NetworkTypeUDP6),
			ice.UDPMuxFromPortWithLogger(slogFactory{log: logger}.NewLogger("udpmux")),
		}
		if ifFilter != nil {
			opts = append(opts, ice.UDPMuxFromPortWithInterfaceFilter(ifFilter))
		}
		if cfg.IncludeLoopback {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		m, err := ice.NewMultiUDPMuxFromPort(cfg.UDPMuxPort, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("webrtc: udp mux on port %d: %w", cfg.UDPMuxPort, err)
		}
		se.SetICEUDPMux(m)
		mux = m
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return api, mux, nil
}
