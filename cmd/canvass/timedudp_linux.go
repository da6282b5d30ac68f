package main

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// listenTimedUDP opens a UDP socket whose reads (readTimed) tell when the
// system received each datagram (SO_TIMESTAMPNS), so that a reader that
// runs late does not count its own delay.
func listenTimedUDP() (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return nil, err
	}
	raw, err := c.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// readTimed reads a datagram into b and returns when the system received
// it, or when the read returned if the system did not say.
func readTimed(c *net.UDPConn, b, oob []byte) (int, time.Time, error) {
	n, oobn, _, _, err := c.ReadMsgUDP(b, oob)
	if err != nil {
		return 0, time.Time{}, err
	}
	now := time.Now()
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return n, now, nil
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
			return n, time.Unix(ts.Unix()), nil
		}
	}
	return n, now, nil
}
