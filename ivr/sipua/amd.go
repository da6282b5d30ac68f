package sipua

// This file runs answering-machine detection on a dialed call: when a
// DialRequest asks for it, the receiver feeds the answered call's decoded
// audio to a media.AMD until it concludes, and Dial waits for the verdict
// before it returns the call (as Asterisk's AMD() runs in the dialplan
// before the call reaches the application).

import (
	"sync"
	"time"

	"github.com/canvass/canvass/ivr/media"
)

// amdGrace is how long past TotalAnalysisTime Dial waits for the verdict:
// the audio arrives in real time, a little late, and may stop altogether
// (a peer that suppresses silence), when the verdict is notsure.
const amdGrace = 500 * time.Millisecond

// amdRun is one call's detection, fed by the receiver goroutine and read
// by Dial.
type amdRun struct {
	mu   sync.Mutex
	det  *media.AMD // nil once concluded
	res  media.AMDResult
	done chan struct{} // closed on the verdict
}

func newAMDRun(o media.AMDOptions) (*amdRun, error) {
	det, err := media.NewAMD(o)
	if err != nil {
		return nil, err
	}
	return &amdRun{det: det, done: make(chan struct{})}, nil
}

// write feeds received samples; it does not allocate.
func (a *amdRun) write(pcm []int16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.det == nil {
		return
	}
	if r, ok := a.det.Write(pcm); ok {
		a.res, a.det = r, nil
		close(a.done)
	}
}

// stop ends the detection: the call ended, or the audio did not come in
// time. It returns the verdict if there was one after all, else the audio
// heard.
func (a *amdRun) stop() (media.AMDResult, bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.det == nil {
		return a.res, true, a.res.After
	}
	heard := a.det.Heard()
	a.det = nil
	return media.AMDResult{}, false, heard
}
