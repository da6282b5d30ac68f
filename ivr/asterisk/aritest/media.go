package aritest

// This file is the stand-in's audio: mixing bridges, externalMedia
// channels and DTMF sent to a channel, as Asterisk 22 answers them
// (POST /bridges, POST /bridges/{id}/addChannel, DELETE /bridges/{id},
// POST /channels/externalMedia with its UNICASTRTP_LOCAL_ADDRESS/PORT
// channel variables, POST /channels/{id}/dtmf). An externalMedia channel
// has a real UDP socket on 127.0.0.1: while it shares a bridge with a
// channel, it sends that channel's voice (Voice) as 20 ms PCMU RTP to its
// external_host, and what comes back from external_host — only from there,
// as Asterisk's strict RTP would have it — is what that channel hears
// (Heard).

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr/media"
)

// bridge is a mixing bridge.
type bridge struct {
	id, name string
	channels []string
}

// extMedia is an externalMedia channel's RTP.
type extMedia struct {
	conn   *net.UDPConn
	remote netip.AddrPort // external_host
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func (e *extMedia) close() {
	e.once.Do(func() {
		close(e.stop)
		e.conn.Close()
	})
	e.wg.Wait()
}

// Voice makes channel id say a steady tone of hz (0: silence) into any
// bridge it is in.
func (s *Server) Voice(id string, hz float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.voices[id] = hz
}

// Heard returns what channel id heard through bridges so far: the audio
// Canvass sent to an externalMedia channel bridged with it, decoded.
func (s *Server) Heard(id string) []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.heard[id])
}

// Digits returns the DTMF sent to channel id (POST …/dtmf), in order.
func (s *Server) Digits(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.digits[id]
}

// Bridges returns the ids of the bridges that exist.
func (s *Server) Bridges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.bridges {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Channels returns the ids of the channels that exist.
func (s *Server) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.channels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (b *bridge) json() map[string]any {
	return map[string]any{"id": b.id, "technology": "simple_bridge", "bridge_type": "mixing", "bridge_class": "stasis",
		"creator": "Stasis", "name": b.name, "channels": slices.Clone(b.channels), "video_mode": "none",
		"creationtime": time.Now().Format("2006-01-02T15:04:05.000-0700")}
}

func (s *Server) bridgeEvent(typ string, b *bridge, ch *channel) {
	s.emit(typ, func(m map[string]any) {
		s.mu.Lock()
		m["bridge"] = b.json()
		s.mu.Unlock()
		if ch != nil {
			m["channel"] = s.channelJSON(ch)
		}
	})
}

// serveMedia answers the requests of this file; it reports false for any
// other.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, p string, seg []string) bool {
	q := r.URL.Query()
	fail := func(status int, msg string) {
		s.reply(w, r, p, status, map[string]string{"message": msg})
	}
	switch {
	case r.Method == "POST" && p == "/bridges":
		if t := q.Get("type"); t != "" && t != "mixing" {
			fail(http.StatusBadRequest, "aritest makes mixing bridges only")
			return true
		}
		b := &bridge{id: q.Get("bridgeId"), name: q.Get("name")}
		s.mu.Lock()
		if b.id == "" {
			s.seq++
			b.id = fmt.Sprintf("bridge-%d", s.seq)
		}
		_, dup := s.bridges[b.id]
		if !dup {
			s.bridges[b.id] = b
		}
		s.mu.Unlock()
		if dup {
			fail(http.StatusConflict, "Bridge with the same bridgeId already exists")
			return true
		}
		s.mu.Lock()
		js := b.json()
		s.mu.Unlock()
		s.reply(w, r, p, http.StatusOK, js)
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "bridges" && seg[2] == "addChannel":
		s.mu.Lock()
		b := s.bridges[seg[1]]
		var add []*channel
		missing := ""
		outside := false
		for _, id := range strings.Split(q.Get("channel"), ",") {
			if ch := s.channels[id]; ch != nil {
				add = append(add, ch)
				outside = outside || ch.outside
			} else {
				missing = id
			}
		}
		s.mu.Unlock()
		switch {
		case outside:
			fail(http.StatusUnprocessableEntity, "Channel not in Stasis application")
			return true
		case b == nil:
			fail(http.StatusNotFound, "Bridge not found")
			return true
		case missing != "" || len(add) == 0:
			fail(http.StatusBadRequest, "Channel not found") // 400, as Asterisk answers
			return true
		}
		for _, ch := range add {
			s.leaveBridges(ch)
		}
		s.mu.Lock()
		for _, ch := range add {
			b.channels = append(b.channels, ch.id)
		}
		s.mu.Unlock()
		s.reply(w, r, p, http.StatusNoContent, nil)
		for _, ch := range add {
			s.bridgeEvent("ChannelEnteredBridge", b, ch)
		}
	case r.Method == "DELETE" && len(seg) == 2 && seg[0] == "bridges":
		s.mu.Lock()
		b := s.bridges[seg[1]]
		delete(s.bridges, seg[1])
		var left []*channel
		if b != nil {
			for _, id := range b.channels {
				if ch := s.channels[id]; ch != nil {
					left = append(left, ch)
				}
			}
		}
		s.mu.Unlock()
		if b == nil {
			fail(http.StatusNotFound, "Bridge not found")
			return true
		}
		s.reply(w, r, p, http.StatusNoContent, nil)
		for _, ch := range left {
			s.mu.Lock()
			b.channels = slices.DeleteFunc(b.channels, func(id string) bool { return id == ch.id })
			s.mu.Unlock()
			s.bridgeEvent("ChannelLeftBridge", b, ch)
		}
		s.bridgeEvent("BridgeDestroyed", b, nil)
	case r.Method == "POST" && p == "/channels/externalMedia":
		s.externalMedia(w, r, p)
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "channels" && seg[2] == "dtmf":
		if s.channel(seg[1]) == nil {
			fail(http.StatusNotFound, "Channel not found")
			return true
		}
		if q.Get("dtmf") == "" {
			fail(http.StatusBadRequest, "DTMF is required")
			return true
		}
		s.mu.Lock()
		s.digits[seg[1]] += q.Get("dtmf")
		s.mu.Unlock()
		s.reply(w, r, p, http.StatusNoContent, nil)
	default:
		return false
	}
	return true
}

// externalMedia creates an externalMedia channel with its RTP socket, and
// it enters the application.
func (s *Server) externalMedia(w http.ResponseWriter, r *http.Request, p string) {
	q := r.URL.Query()
	fail := func(msg string) { s.reply(w, r, p, http.StatusBadRequest, map[string]string{"message": msg}) }
	remote, err := netip.ParseAddrPort(q.Get("external_host"))
	switch {
	case q.Get("app") != s.App:
		fail("app cannot be empty") // (or another application's)
		return
	case err != nil:
		fail("external_host must be host:port")
		return
	case q.Get("format") != "ulaw":
		fail("aritest speaks format=ulaw only")
		return
	case q.Get("encapsulation") != "" && q.Get("encapsulation") != "rtp",
		q.Get("transport") != "" && q.Get("transport") != "udp":
		fail("aritest speaks rtp over udp only")
		return
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		s.reply(w, r, p, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	local := netip.MustParseAddrPort(conn.LocalAddr().String())
	em := &extMedia{conn: conn, remote: remote, stop: make(chan struct{})}
	s.mu.Lock()
	s.seq++
	ch := &channel{id: q.Get("channelId"), name: fmt.Sprintf("UnicastRTP/%s-0x%x", remote, s.seq), state: "Down", outside: true,
		vars: map[string]string{"UNICASTRTP_LOCAL_ADDRESS": local.Addr().String(),
			"UNICASTRTP_LOCAL_PORT": strconv.Itoa(int(local.Port()))}}
	if ch.id == "" {
		ch.id = fmt.Sprintf("1795375200.%d", s.seq)
	}
	_, dup := s.channels[ch.id]
	if !dup {
		s.channels[ch.id] = ch
		s.media[ch.id] = em
	}
	s.mu.Unlock()
	if dup {
		conn.Close()
		s.reply(w, r, p, http.StatusConflict, map[string]string{"message": "Channel with the same id already exists"})
		return
	}
	em.wg.Add(2)
	go s.mediaSend(ch.id, em)
	go s.mediaReceive(ch.id, em)
	js := s.channelJSON(ch)
	s.reply(w, r, p, http.StatusOK, js)
	// As Asterisk does, the channel enters the application after the
	// REST answer; until then it cannot be bridged.
	s.mu.Lock()
	ch.state, ch.outside = "Up", false
	s.mu.Unlock()
	s.channelEvent("StasisStart", ch, func(m map[string]any) { m["args"] = []string{} })
}

// partners are the channels sharing a bridge with id; s.mu must be held.
func (s *Server) partners(id string) []string {
	var out []string
	for _, b := range s.bridges {
		if slices.Contains(b.channels, id) {
			for _, o := range b.channels {
				if o != id {
					out = append(out, o)
				}
			}
		}
	}
	return out
}

// leaveBridges takes ch out of the bridges it is in.
func (s *Server) leaveBridges(ch *channel) {
	s.mu.Lock()
	var left []*bridge
	for _, b := range s.bridges {
		if i := slices.Index(b.channels, ch.id); i >= 0 {
			b.channels = slices.Delete(b.channels, i, i+1)
			left = append(left, b)
		}
	}
	s.mu.Unlock()
	for _, b := range left {
		s.bridgeEvent("ChannelLeftBridge", b, ch)
	}
}

// closeMedia stops an externalMedia channel's RTP.
func (s *Server) closeMedia(id string) {
	s.mu.Lock()
	em := s.media[id]
	delete(s.media, id)
	s.mu.Unlock()
	if em != nil {
		em.close()
	}
}

// mediaSend sends the voice of the externalMedia channel's bridge partner
// every 20 ms, as Asterisk sends the mix; nothing while it has none.
func (s *Server) mediaSend(id string, em *extMedia) {
	defer em.wg.Done()
	tick := time.NewTicker(media.PacketInterval)
	defer tick.Stop()
	h := rtp.Header{Version: 2, PayloadType: media.PCMU.PayloadType(), SSRC: 0x5eed0001, SequenceNumber: 4000, Timestamp: 90000}
	pcm := make([]int16, media.SamplesPerPacket)
	payload := make([]byte, media.SamplesPerPacket)
	phase := 0.0
	for {
		select {
		case <-em.stop:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		hz := 0.0
		for _, o := range s.partners(id) {
			hz = max(hz, s.voices[o])
		}
		s.mu.Unlock()
		if hz == 0 {
			continue
		}
		for i := range pcm {
			pcm[i] = int16(8000 * math.Sin(phase))
			phase += 2 * math.Pi * hz / media.SampleRate
		}
		phase = math.Mod(phase, 2*math.Pi)
		media.PCMU.Encode(payload, pcm)
		pkt, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
		if err != nil {
			panic(fmt.Sprintf("aritest: RTP: %v", err))
		}
		if _, err := em.conn.WriteToUDPAddrPort(pkt, em.remote); err != nil {
			return // closed
		}
		h.SequenceNumber++
		h.Timestamp += media.SamplesPerPacket
	}
}

// mediaReceive takes RTP from external_host and gives it, decoded, to the
// channels bridged with the externalMedia channel.
func (s *Server) mediaReceive(id string, em *extMedia) {
	defer em.wg.Done()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, from, err := em.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != em.remote || p.Unmarshal(buf[:n]) != nil ||
			p.PayloadType != media.PCMU.PayloadType() {
			continue // strict RTP: only from where we send
		}
		pcm := make([]int16, len(p.Payload))
		media.PCMU.Decode(pcm, p.Payload)
		s.mu.Lock()
		for _, o := range s.partners(id) {
			s.heard[o] = append(s.heard[o], pcm...)
		}
		s.notify()
		s.mu.Unlock()
	}
}

// AwaitHeard waits until channel id has heard at least n samples through
// bridges.
func (s *Server) AwaitHeard(ctx context.Context, id string, n int) ([]int16, error) {
	for {
		s.mu.Lock()
		got, ch := len(s.heard[id]), s.changed
		if got >= n {
			pcm := slices.Clone(s.heard[id])
			s.mu.Unlock()
			return pcm, nil
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("channel %s heard %d samples, want %d: %w", id, got, n, ctx.Err())
		}
	}
}
