package media

// This file keeps prompts encoded: every call playing a prompt sends the
// same G.711 codes, so they are encoded once per codec rather than once per
// packet of every call.

import (
	"runtime"
	"sync"
	"weak"
)

// Encoded is a cache of prompts' samples encoded in a codec, keyed by the
// samples' identity (a prompt catalog hands out the same read-only slice
// to every call). An entry lives as long as its samples: it is dropped
// once the catalog lets go of them, so the cache never outgrows the
// catalog. The zero value is ready to use.
type Encoded struct {
	mu sync.Mutex
	m  map[encodedKey][]byte
}

type encodedKey struct {
	first weak.Pointer[int16]
	n     int
	codec Codec
}

// Encode returns pcm encoded in codec, one code per sample; the result is
// shared: read only. pcm must not change afterwards.
func (e *Encoded) Encode(pcm []int16, codec Codec) []byte {
	if len(pcm) == 0 {
		return nil
	}
	k := encodedKey{first: weak.Make(&pcm[0]), n: len(pcm), codec: codec}
	e.mu.Lock()
	codes, ok := e.m[k]
	e.mu.Unlock()
	if ok {
		return codes
	}
	codes = make([]byte, len(pcm))
	codec.Encode(codes, pcm)
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.m[k]; ok {
		return prev // encoded meanwhile by another call
	}
	if e.m == nil {
		e.m = map[encodedKey][]byte{}
	}
	e.m[k] = codes
	runtime.AddCleanup(&pcm[0], e.drop, k)
	return codes
}

// drop forgets an entry whose samples are gone.
func (e *Encoded) drop(k encodedKey) {
	e.mu.Lock()
	delete(e.m, k)
	e.mu.Unlock()
}

// Len is the number of prompts held, one per codec.
func (e *Encoded) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.m)
}
