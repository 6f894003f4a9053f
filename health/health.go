package health

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ErrShuttingDown is the readiness error once shutdown has begun.
var ErrShuttingDown = errors.New("shutting down")

// Probe reports a component's state. A ready component returns a nil error
// and the moment its readiness expires unless it reports again before
// (zero: it does not expire by itself); a component that is not ready
// returns why. A probe runs under the Checker's lock: it must be quick and
// must not call the Checker.
type Probe func() (until time.Time, err error)

// Component is one thing readiness depends on.
type Component struct {
	Probe Probe
	// Optional components are evaluated and reported, but their failure
	// does not make the process not ready.
	Optional bool
}

// Problem is one failing component of a State.
type Problem struct {
	// Group is the component's group ("" for a top-level component).
	Group string
	// Name is the component's name within its group.
	Name string
	// Reason says why it is not ready.
	Reason string
	// Optional is set when the failure does not gate readiness.
	Optional bool
}

// State is one evaluation of readiness. States are immutable; the Checker
// replaces its State as a whole.
type State struct {
	// Ready is true when no component that gates readiness fails and
	// shutdown has not begun.
	Ready bool
	// ShuttingDown is true once Shutdown was called.
	ShuttingDown bool
	// Problems lists the failing components, ordered by group and name.
	Problems []Problem

	body    []byte        // the /readyz body
	changed chan struct{} // closed when a different State replaces this one
}

type key struct{ group, name string }

// Checker computes readiness from its components and publishes it to
// /readyz and the gRPC health service at once.
type Checker struct {
	clock    Clock
	services map[string]bool

	mu         sync.Mutex // serializes evaluations and guards the fields below
	components map[key]Component
	stopping   bool
	closed     bool // no more expiry timers
	stopTimer  func() bool

	state atomic.Pointer[State]
}

// Options configure a Checker.
type Options struct {
	// Services are the gRPC service names the health service answers for,
	// besides "" (the server as a whole), all with the same status.
	Services []string
	// Clock defaults to the system clock.
	Clock Clock
}

// New returns a Checker without components: ready, until components are
// set. Set the components before serving.
func New(opts Options) *Checker {
	c := &Checker{
		clock:      opts.Clock,
		services:   map[string]bool{"": true},
		components: map[key]Component{},
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	for _, s := range opts.Services {
		c.services[s] = true
	}
	c.mu.Lock()
	c.evaluateLocked()
	c.mu.Unlock()
	return c
}

// Set installs or replaces a top-level component and evaluates readiness.
func (c *Checker) Set(name string, comp Component) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.components[key{name: name}] = comp
	c.evaluateLocked()
}

// Remove drops a top-level component and evaluates readiness.
func (c *Checker) Remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.components, key{name: name})
	c.evaluateLocked()
}

// SetGroup replaces every member of group with members (by name), in one
// evaluation: the group never appears half replaced.
func (c *Checker) SetGroup(group string, members map[string]Component) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.components {
		if k.group == group {
			delete(c.components, k)
		}
	}
	for name, comp := range members {
		c.components[key{group: group, name: name}] = comp
	}
	c.evaluateLocked()
}

// Notify evaluates every component now. Components call it whenever their
// state may have changed; it is cheap when nothing did.
func (c *Checker) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evaluateLocked()
}

// Shutdown marks the process not ready, for good.
func (c *Checker) Shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopping = true
	c.evaluateLocked()
}

// Current returns the state in force.
func (c *Checker) Current() *State { return c.state.Load() }

// Close stops the expiry timer for good. The Checker keeps answering, and
// evaluating on Notify, but no longer expires states by itself.
func (c *Checker) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.stopTimer != nil {
		c.stopTimer()
		c.stopTimer = nil
	}
}

// evaluateLocked runs every probe, publishes the resulting State when it
// differs from the current one, and arms the timer for the earliest expiry.
func (c *Checker) evaluateLocked() {
	now := c.clock.Now()
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	st := &State{Ready: !c.stopping, ShuttingDown: c.stopping, changed: make(chan struct{})}
	for k, comp := range c.components {
		until, err := comp.Probe()
		if err == nil && !until.IsZero() {
			if now.Before(until) {
				earliest(until)
			} else {
				err = fmt.Errorf("not confirmed since %s", until.UTC().Format(time.RFC3339))
			}
		}
		if err == nil {
			continue
		}
		st.Problems = append(st.Problems, Problem{Group: k.group, Name: k.name, Reason: err.Error(), Optional: comp.Optional})
		if !comp.Optional {
			st.Ready = false
		}
	}
	sort.Slice(st.Problems, func(i, j int) bool {
		a, b := st.Problems[i], st.Problems[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Name < b.Name
	})
	st.body = renderBody(st)

	if c.stopTimer != nil {
		c.stopTimer()
		c.stopTimer = nil
	}
	if !next.IsZero() && !c.closed {
		c.stopTimer = c.clock.AfterFunc(next.Sub(now), c.Notify)
	}

	old := c.state.Load()
	if old != nil && old.Ready == st.Ready && string(old.body) == string(st.body) {
		return
	}
	c.state.Store(st)
	if old != nil {
		close(old.changed)
	}
}
