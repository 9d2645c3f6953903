package server

import (
	"context"
	"errors"
	"sync"
)

// admission is a weighted semaphore over the memory that request bodies in
// flight may hold (their decompressed bytes times bodyMemoryFactor). A body
// is read in chunks and acquires its weight as it grows, so memory stays
// bounded for any number of concurrent requests; a request that cannot get
// its share within the admission wait is refused with 503 and Retry-After,
// and one that could never fit is refused with 413.
type admission struct {
	mu       sync.Mutex
	capacity int64
	used     int64
	changed  chan struct{} // closed and replaced on every release
	// waitingHeld is the budget held by requests waiting for more.
	waitingHeld int64
}

func newAdmission(capacity int64) *admission {
	return &admission{capacity: capacity, changed: make(chan struct{})}
}

// errWouldDeadlock refuses a wait that only other waiters could satisfy.
var errWouldDeadlock = errors.New("admission: the budget is held by requests that are themselves waiting")

// acquire takes n more bytes of the budget for a request that holds held
// bytes already, waiting until they are free or ctx ends. A request may wait
// only while the requests not waiting could free what it needs: when
// waiters hold so much that it could never come free, it is refused at once
// (errWouldDeadlock), so partly-read bodies never wait on each other for
// ever. The caller has checked held+n <= capacity.
func (a *admission) acquire(ctx context.Context, n, held int64) error {
	waiting := false
	defer func() {
		if waiting {
			a.mu.Lock()
			a.waitingHeld -= held
			a.mu.Unlock()
		}
	}()
	for {
		a.mu.Lock()
		if a.used+n <= a.capacity {
			a.used += n
			a.mu.Unlock()
			return nil
		}
		if !waiting {
			if a.capacity-a.waitingHeld-held < n {
				a.mu.Unlock()
				return errWouldDeadlock
			}
			waiting = true
			a.waitingHeld += held
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (a *admission) release(n int64) {
	if n <= 0 {
		return
	}
	a.mu.Lock()
	a.used -= n
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
}

// inUse is the budget held now (for tests and metrics).
func (a *admission) inUse() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used
}
