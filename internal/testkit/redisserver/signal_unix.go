//go:build unix

package redisserver

import "syscall"

// Pause stops the server with SIGSTOP, as a stalled host would: its
// connections stay open and nothing is answered until Resume. Pausing a
// stopped server does nothing.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Errorf("signal %v to redis-server on port %d: %v", sig, s.port, err)
	}
}
