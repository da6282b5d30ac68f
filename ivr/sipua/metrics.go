package sipua

// This file is the endpoint's Prometheus collector: what the per-source
// limits dropped and banned, and the calls up. cmd/canvass registers it
// with the HTTP server's /metrics.

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	droppedDesc = prometheus.NewDesc("canvass_sip_dropped_total",
		"SIP datagrams and TCP reads dropped before parsing, by reason: rate (the source went over sip.limits.rate) or banned (the source is banned).",
		[]string{"reason"}, nil)
	bansDesc = prometheus.NewDesc("canvass_sip_bans_total",
		"Sources banned for going over sip.limits.rate.", nil, nil)
	bannedDesc = prometheus.NewDesc("canvass_sip_banned_sources",
		"Sources banned now.", nil, nil)
	callsDesc = prometheus.NewDesc("canvass_sip_calls",
		"SIP calls up or being set up.", nil, nil)
)

// newAnswerTime is the histogram of how long the endpoint takes from an
// INVITE to its 200 OK: what a caller waits for, less the network (the
// load test reads it to tell the server's share of call setup from its
// own).
func newAnswerTime() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "canvass_sip_answer_seconds",
		Help:    "Time from an INVITE received to its 200 OK sent, for the calls the endpoint answers.",
		Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10}})
}

// Collector is the endpoint's metrics.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- droppedDesc
	ch <- bansDesc
	ch <- bannedDesc
	ch <- callsDesc
	c.s.answerTime.Describe(ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	l := c.s.limits
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(l.droppedRate.Load()), "rate")
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(l.droppedBanned.Load()), "banned")
	ch <- prometheus.MustNewConstMetric(bansDesc, prometheus.CounterValue, float64(l.bans.Load()))
	ch <- prometheus.MustNewConstMetric(bannedDesc, prometheus.GaugeValue, float64(l.banned(time.Now())))
	ch <- prometheus.MustNewConstMetric(callsDesc, prometheus.GaugeValue, float64(c.s.Active()))
	c.s.answerTime.Collect(ch)
}
