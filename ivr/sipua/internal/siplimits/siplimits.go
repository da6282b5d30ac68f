// Package siplimits sets sipgo's process-wide message size limits, once,
// before any sipgo transport runs. sipgo keeps them in package variables:
// it refuses to send a UDP message over 1,300 bytes (UDPMTUSize-200) and
// reads 32 KB of a datagram. A 200 OK to an INVITE that crossed a few
// proxies (Via and Record-Route copied back) is over 1,300 bytes, and RFC
// 3261 §18.2.2 sends a response back over the transport its request came
// on, so UDP must carry it (the IP layer fragments it).
package siplimits

import (
	"sync"

	"github.com/emiago/sipgo/sip"
)

// MaxUDP is the largest SIP message sent or read over UDP: the largest
// UDP payload over IPv4.
const MaxUDP = 65507

var once sync.Once

// Apply sets the limits. Every user of sipgo in the process calls it
// before it builds a user agent, so that the writes happen before any
// transport reads them.
func Apply() {
	once.Do(func() {
		sip.UDPMTUSize = MaxUDP + 200 // sipgo refuses len > UDPMTUSize-200
		sip.TransportBufferReadSize = 65535
	})
}
