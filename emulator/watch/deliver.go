package watch

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// deliverySlots bounds the streams delivering commits at once. With many listeners, every
// commit wakes every stream it concerns; were they all to run at once, the commits themselves
// would get a sliver of the CPU. With fewer running, a stream finds more commits queued when its
// turn comes and sends each changed document once, so delivery adapts to the load.
var deliverySlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// slowSend is how long a send may wait for its client before the stream gives its delivery
// slot back: a client that does not read must not hold up the others.
const slowSend = 10 * time.Millisecond

// slot is a stream's hold on a delivery slot. The timer gives it back when a send is slow.
type slot struct {
	mu    sync.Mutex
	held  bool // mu
	timer *time.Timer
}

func (sl *slot) acquire(ctx context.Context) error {
	select {
	case deliverySlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	sl.mu.Lock()
	sl.held = true
	sl.mu.Unlock()
	return nil
}

// release gives the slot back if the stream still holds it.
func (sl *slot) release() {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.held {
		sl.held = false
		<-deliverySlots
	}
}

// deliver sends what the queue holds, in a delivery slot.
func (s *stream) deliver(ctx context.Context) error {
	if err := s.slot.acquire(ctx); err != nil {
		return err
	}
	defer s.slot.release()
	sent, err := s.catchUp(ctx)
	if err == nil && sent {
		err = s.sendSnapshot()
	}
	return err
}
