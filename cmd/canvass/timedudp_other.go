//go:build !linux

package main

import (
	"net"
	"time"
)

// listenTimedUDP opens a UDP socket; elsewhere than on Linux its reads
// are timed as they return.
func listenTimedUDP() (*net.UDPConn, error) { return net.ListenUDP("udp4", nil) }

// readTimed reads a datagram into b, timed as the read returns.
func readTimed(c *net.UDPConn, b, _ []byte) (int, time.Time, error) {
	n, _, _, _, err := c.ReadMsgUDP(b, nil)
	return n, time.Now(), err
}
