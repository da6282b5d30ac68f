package survey

// This file turns answer distributions into the CX metrics reports show:
// NPS, CSAT and CES. Each takes what the store counts for one question,
// value -> number of answers (Tally.Values), so the metrics cover answered
// questions only: a skipped question has no value and is not counted.

import "math"

// NPS is the Net Promoter Score of one 0–10 question, with the counts behind
// it so a report can show how many answers it rests on.
type NPS struct {
	N          int `json:"n"`
	Promoters  int `json:"promoters"`  // 9–10
	Passives   int `json:"passives"`   // 7–8
	Detractors int `json:"detractors"` // 0–6
	// Score is %promoters − %detractors, from −100 to +100; undefined when
	// N is 0.
	Score Rate `json:"score"`
	// MarginOfError is the half-width of the 95% confidence interval of
	// Score, in NPS points. It is defined whenever Score is, but rests on a
	// normal approximation that is rough below a few dozen answers: that is
	// exactly when a report should show it.
	MarginOfError Rate `json:"margin_of_error"`
}

// NPSFrom computes the NPS of a 0–10 answer distribution. Values outside
// 0..10 and counts below 1 are ignored.
//
// The margin of error treats each answer as +1 (promoter), 0 (passive) or −1
// (detractor): the variance of that score is pP + pD − (pP − pD)², so the 95%
// margin is 1.96·√((pP + pD − (pP − pD)²)/N), times 100 for NPS points.
func NPSFrom(dist map[int64]int) NPS {
	var n NPS
	for v, count := range dist {
		if count < 1 {
			continue
		}
		if v < 0 || v > 10 {
			continue
		}
		switch NPSGroup(v) {
		case "promoter":
			n.Promoters += count
		case "passive":
			n.Passives += count
		default:
			n.Detractors += count
		}
		n.N += count
	}
	if n.N == 0 {
		return n
	}
	total := float64(n.N)
	pP := float64(n.Promoters) / total
	pD := float64(n.Detractors) / total
	n.Score = Rate{Value: (pP - pD) * 100, Defined: true}
	// max guards against a variance a rounding error below zero (all
	// promoters or all detractors), where the square root would be NaN.
	variance := math.Max(0, pP+pD-(pP-pD)*(pP-pD))
	n.MarginOfError = Rate{Value: 1.96 * math.Sqrt(variance/total) * 100, Defined: true}
	return n
}

// CSAT is the customer satisfaction score of one scale question: the share
// of answers in the top two boxes.
type CSAT struct {
	N      int `json:"n"`
	TopTwo int `json:"top_two"`
	// Score is the percentage (0–100) of answers in the top two boxes;
	// undefined when N is 0.
	Score Rate `json:"score"`
	// Distribution counts answers per scale value within lo..hi; a value
	// nobody chose is absent.
	Distribution map[int64]int `json:"distribution"`
}

// CSATFrom computes the CSAT of a lo..hi scale (1–5 by default in
// questionnaires). The top two boxes are hi−1 and hi, 4 and 5 on 1–5.
// Values outside lo..hi and counts below 1 are ignored.
func CSATFrom(dist map[int64]int, lo, hi int64) CSAT {
	c := CSAT{Distribution: scaleDistribution(dist, lo, hi)}
	for v, count := range c.Distribution {
		c.N += count
		if v >= hi-1 {
			c.TopTwo += count
		}
	}
	return c.scored()
}

// CSATTopTwo is the CSAT of n answers, topTwo of them in the top two boxes:
// CSATs of different scales added up (a journey stage's).
func CSATTopTwo(n, topTwo int) CSAT {
	return CSAT{N: n, TopTwo: topTwo, Distribution: map[int64]int{}}.scored()
}

// scored sets Score from N and TopTwo.
func (c CSAT) scored() CSAT {
	if c.N > 0 {
		c.Score = Rate{Value: float64(c.TopTwo) / float64(c.N) * 100, Defined: true}
	}
	return c
}

// CES is the customer effort score of one scale question: the mean answer.
// Which end means "easy" is the questionnaire's wording; reports take it
// from there.
type CES struct {
	N int `json:"n"`
	// Mean is the mean answer on the question's scale; undefined when N is 0.
	Mean Rate `json:"mean"`
	// Distribution counts answers per scale value within lo..hi; a value
	// nobody chose is absent.
	Distribution map[int64]int `json:"distribution"`
}

// CESFrom computes the CES of a lo..hi scale (1–7 by default in
// questionnaires). Values outside lo..hi and counts below 1 are ignored.
func CESFrom(dist map[int64]int, lo, hi int64) CES {
	c := CES{Distribution: scaleDistribution(dist, lo, hi)}
	var sum float64
	for v, count := range c.Distribution {
		c.N += count
		sum += float64(v) * float64(count)
	}
	if c.N > 0 {
		c.Mean = Rate{Value: sum / float64(c.N), Defined: true}
	}
	return c
}

// scaleDistribution copies the counts of dist that fall in lo..hi, so a
// report never shares (or shows) the store's map with out-of-scale entries.
// The result is never nil, so it encodes as {} rather than null.
func scaleDistribution(dist map[int64]int, lo, hi int64) map[int64]int {
	out := make(map[int64]int)
	for v, count := range dist {
		if v >= lo && v <= hi && count > 0 {
			out[v] = count
		}
	}
	return out
}

// MarginOfError is the half-width of the 95% confidence interval of the
// CSAT score, in percentage points (normal approximation of a proportion);
// undefined when N is 0.
func (c CSAT) MarginOfError() Rate {
	if c.N == 0 {
		return Rate{}
	}
	p := float64(c.TopTwo) / float64(c.N)
	return Rate{Value: 196 * math.Sqrt(p*(1-p)/float64(c.N)), Defined: true}
}

// MarginOfError is the half-width of the 95% confidence interval of the
// CES mean, on the question's scale (sample standard deviation); undefined
// below two answers.
func (c CES) MarginOfError() Rate {
	if c.N < 2 || !c.Mean.Defined {
		return Rate{}
	}
	var ss float64
	for v, count := range c.Distribution {
		d := float64(v) - c.Mean.Value
		ss += d * d * float64(count)
	}
	return Rate{Value: 1.96 * math.Sqrt(ss/float64(c.N-1)) / math.Sqrt(float64(c.N)), Defined: true}
}

// SmallSample is the number of answers below which a margin of error means
// little: reports say "small sample" instead.
const SmallSample = 30
