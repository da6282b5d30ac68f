package sipua

// This file sends the endpoint's own requests by RFC 3261 §18.1.1: a
// request larger than 1,300 bytes (the path MTU is unknown) that would go
// over UDP goes over TCP instead, its top Via saying so; if the peer
// refuses the TCP connection, it goes over UDP after all (the RFC's
// SHOULD retry with UDP), which siplimits lets through up to 64 KB. This
// covers every request the endpoint sends in a transaction through its
// UDP client: an outbound INVITE to a trunk (with its digest retry), the
// BYE of an inbound or outbound call, a re-INVITE. sipgo v1.7 has the
// rule only as a TODO: its one hook that sees a request fully built (Via
// included) before it is sent is Client.TxRequester, which replaces the
// transaction layer's Request; so that is where this sits.
//
// A dialog whose INVITE went over TCP stays on TCP: sipgo sends every
// later request of the dialog (ACK, BYE, re-INVITE) over the INVITE's
// transport. ACKs to 2xx (sipgo hands them to the same hook) go straight
// to the transport, on their dialog's transport.

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/emiago/sipgo/sip"
)

// udpRequestLimit is RFC 3261 §18.1.1's size past which a request goes
// over a congestion-controlled transport when the path MTU is unknown.
const udpRequestLimit = 1300

// sizedRequests starts client transactions as the transaction layer does,
// moving large UDP requests to TCP; it writes ACKs, which have no
// transaction, straight to the transport layer, as sipgo does without it.
type sizedRequests struct {
	txl *sip.TransactionLayer
	tpl *sip.TransportLayer
	log *slog.Logger
}

// Request starts req's client transaction, or writes an ACK (with no
// transaction, then).
func (r sizedRequests) Request(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	if req.IsAck() {
		return nil, r.tpl.WriteMsg(req)
	}
	if sip.NetworkToLower(req.Transport()) != "udp" {
		return r.txl.Request(ctx, req)
	}
	size := len(req.String())
	if size <= udpRequestLimit {
		return r.txl.Request(ctx, req)
	}
	via := req.Via()
	if via == nil {
		return r.txl.Request(ctx, req) // sipgo refuses it with its own error
	}
	laddr := req.Laddr
	req.SetTransport("TCP")
	via.Transport = "TCP"
	req.Laddr = sip.Addr{} // a connection of its own, not from the UDP listener's port
	tx, err := r.txl.Request(ctx, req)
	if err == nil {
		r.log.Debug("large request sent over TCP (RFC 3261 §18.1.1)", "method", req.Method, "bytes", size, "to", req.Destination())
		return tx, nil
	}
	if !refused(err) {
		return nil, err
	}
	r.log.Info("peer refuses TCP: large request sent over UDP", "method", req.Method, "bytes", size, "to", req.Destination(), "err", err)
	req.SetTransport("UDP")
	via.Transport = "UDP"
	req.Laddr = laddr
	return r.txl.Request(ctx, req)
}

// refused says whether err is the TCP connection refused or reset, after
// which RFC 3261 §18.1.1 retries over UDP.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPROTONOSUPPORT)
}
