package asterisk

import (
	"net"
	"net/http"
	"time"
)

// UseTransportBefore13 gives c's REST calls what they had before issue 13
// (a transport with 90 s idle connections, up to 128 of them and no limit
// on how many are opened, and no request sent again), for the setup
// benchmark's "before" column.
func UseTransportBefore13(c *Client) {
	o := c.opts
	c.rest.hc = &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.RequestTimeout,
		ExpectContinueTimeout: time.Second,
	}}
	c.rest.replay = false
}

// AnswerOncePrepared makes c answer a transferred call only once its
// session is prepared, after the gate, as before issue 13: the setup
// benchmark's "before" column.
func AnswerOncePrepared(c *Client) { c.serialSetup = true }
