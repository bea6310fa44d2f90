package composer

import (
	"sync"
	"time"
)

// workers run the composer's short-lived work — a page's slots, a
// waiter's own fetch, the end of a page — on goroutines that outlive one
// piece of it: a slot then starts on a goroutine whose stack has already
// grown to what a fetch needs, rather than on a new one that grows it
// again, copy by copy, every time. A worker idle for workerIdle ends.
type workers struct {
	work     chan func()
	quit     chan struct{}
	stopOnce sync.Once
}

const workerIdle = 10 * time.Second

func newWorkers() *workers {
	return &workers{work: make(chan func()), quit: make(chan struct{})}
}

// run hands fn to an idle worker, or starts one for it.
func (w *workers) run(fn func()) {
	select {
	case w.work <- fn:
	default:
		go w.loop(fn)
	}
}

func (w *workers) loop(fn func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		fn()
		idle.Reset(workerIdle)
		select {
		case fn = <-w.work:
		case <-idle.C:
			return
		case <-w.quit:
			return
		}
	}
}

// stop ends the idle workers; work handed over later still runs, each on
// a goroutine that then ends.
func (w *workers) stop() { w.stopOnce.Do(func() { close(w.quit) }) }
