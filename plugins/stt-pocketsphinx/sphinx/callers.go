package sphinx

import (
	"container/list"
	"sync"
	"time"
)

// callers remembers the live cepstral mean each conversation's last stream
// ended with, so the next stream of the same session starts from it on
// whichever decoder serves it. The host opens a stream per speech segment
// and the pool lends its decoders in turn: without this, a segment starts
// from the mean of whatever that decoder heard last, perhaps another
// caller on another line. Bounded in count and in idle time; safe for
// concurrent use.
type callers struct {
	max  int
	idle time.Duration
	now  func() time.Time

	mu    sync.Mutex
	order *list.List // of *caller, most recently used first
	byID  map[string]*list.Element
}

type caller struct {
	id   string
	cmn  cmnState
	seen time.Time
}

// Caller memory bounds: a mean is 13 floats, so thousands cost little;
// a session quiet for longer than callerIdle starts afresh.
const (
	maxCallers = 4096
	callerIdle = 30 * time.Minute
)

func newCallers(maxEntries int, idle time.Duration, now func() time.Time) *callers {
	return &callers{max: maxEntries, idle: idle, now: now, order: list.New(), byID: make(map[string]*list.Element)}
}

// recall returns the mean the session's last stream ended with.
func (c *callers) recall(id string) (cmnState, bool) {
	if id == "" {
		return cmnState{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return cmnState{}, false
	}
	cl := e.Value.(*caller)
	if c.now().Sub(cl.seen) > c.idle {
		c.remove(e)
		return cmnState{}, false
	}
	return cl.cmn, true
}

// remember keeps the mean a session's stream ended with, dropping the
// least recently used sessions beyond the bound. A stream without a
// session or a decoder without CMN leaves nothing.
func (c *callers) remember(id string, st cmnState) {
	if id == "" || len(st.mean) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if e, ok := c.byID[id]; ok {
		cl := e.Value.(*caller)
		cl.cmn, cl.seen = st, now
		c.order.MoveToFront(e)
		return
	}
	c.byID[id] = c.order.PushFront(&caller{id: id, cmn: st, seen: now})
	for c.order.Len() > c.max {
		c.remove(c.order.Back())
	}
}

func (c *callers) remove(e *list.Element) {
	c.order.Remove(e)
	delete(c.byID, e.Value.(*caller).id)
}
