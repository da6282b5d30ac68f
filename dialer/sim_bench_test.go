package dialer

import "testing"

// BenchmarkSimulate is a 10-day predictive run of the default campaign: the
// simulator's cost, mostly Plan.
func BenchmarkSimulate(b *testing.B) {
	for b.Loop() {
		o := DefaultSimOptions()
		o.Days = 10
		if _, err := Simulate(o); err != nil {
			b.Fatal(err)
		}
	}
}
