// Prompts encoded once per codec, shared by every call, and forgotten
// with their samples.

package media

import (
	"runtime"
	"slices"
	"testing"
)

func TestEncoded(t *testing.T) {
	var e Encoded
	encodeAll(t, &e)
	// Once the catalog lets go of the samples, so does the cache.
	for range 100 {
		if e.Len() == 0 {
			break
		}
		runtime.GC()
		runtime.Gosched()
	}
	if n := e.Len(); n != 0 {
		t.Errorf("%d prompts still held after their samples were collected", n)
	}
}

// encodeAll checks the codes of a prompt it then lets go of.
func encodeAll(t *testing.T, e *Encoded) {
	pcm := make([]int16, 1000)
	Tone(pcm, '5', 6000, 0)
	for _, codec := range []Codec{PCMU, PCMA} {
		want := make([]byte, len(pcm))
		codec.Encode(want, pcm)
		got := e.Encode(pcm, codec)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the codes differ from encoding the samples", codec.Name())
		}
		if again := e.Encode(pcm, codec); &again[0] != &got[0] {
			t.Errorf("%s: encoded again for a second call, want the same codes shared", codec.Name())
		}
	}
	if head := e.Encode(pcm[:500], PCMU); len(head) != 500 {
		t.Errorf("the first half of a prompt gave %d codes, want 500", len(head))
	}
	if e.Encode(nil, PCMU) != nil {
		t.Error("an empty prompt gave codes")
	}
	if n := e.Len(); n != 3 {
		t.Errorf("%d prompts held, want 3 (two codecs of one, and a shorter one)", n)
	}
}

func BenchmarkEncodedHit(b *testing.B) {
	var e Encoded
	pcm := make([]int16, 8000)
	e.Encode(pcm, PCMU)
	b.ReportAllocs()
	for b.Loop() {
		e.Encode(pcm, PCMU)
	}
}
