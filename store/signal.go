package store

import "sync"

// Signals is an in-process broadcaster with one signal per Topic, for store
// implementations. The zero value is not usable; call NewSignals.
type Signals struct {
	mu sync.Mutex
	ch [NumTopics]chan struct{}
}

// NewSignals returns a ready Signals.
func NewSignals() *Signals {
	s := &Signals{}
	for i := range s.ch {
		s.ch[i] = make(chan struct{})
	}
	return s
}

// Wait returns a channel closed by the next Notify of topic.
func (s *Signals) Wait(topic Topic) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch[topic]
}

// Notify wakes every waiter of topic.
func (s *Signals) Notify(topic Topic) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch[topic])
	s.ch[topic] = make(chan struct{})
}
