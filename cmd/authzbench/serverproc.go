package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// serverProc is a server the suite started as a process of its own, so that
// /proc shows its CPU time and memory alone.
type serverProc struct {
	Name       string
	PID        int
	GRPCAddr   string
	AdminAddr  string
	AdminToken string
	LogPath    string

	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{} // closed once the process has exited
	err    error         // how it exited; read after exited is closed
}

// startProc starts argv with stdout and stderr appended to logPath. When
// wantAddr is set, the first line of stdout is read as the address it
// listens on (the floor prints it) and the rest goes to the log.
func startProc(name string, argv []string, logPath string, wantAddr bool) (*serverProc, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("start %s: empty command", name)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logf
	setChildAttrs(cmd)
	var stdout io.ReadCloser
	if wantAddr {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &serverProc{Name: name, PID: cmd.Process.Pid, LogPath: logPath, cmd: cmd, log: logf, exited: make(chan struct{})}
	addrc := make(chan string, 1)
	if wantAddr {
		go func() {
			r := bufio.NewReader(stdout)
			line, _ := r.ReadString('\n')
			addrc <- strings.TrimSpace(line)
			_, _ = io.Copy(logf, r) // until the process closes stdout
		}()
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if wantAddr {
		select {
		case addr := <-addrc:
			if err := checkLoopback(addr); err != nil {
				p.stop()
				return nil, fmt.Errorf("start %s: printed address: %w", name, err)
			}
			p.GRPCAddr = addr
		case <-time.After(30 * time.Second):
			p.stop()
			return nil, fmt.Errorf("start %s: no address printed within 30s", name)
		}
	}
	return p, nil
}

// waitReady polls grpc.health.v1 on p.GRPCAddr until it answers SERVING,
// the process exits, or timeout passes.
func (p *serverProc) waitReady(ctx context.Context, timeout time.Duration) error {
	// A server still starting refuses connections; retry those quickly
	// rather than after grpc's default one-second backoff.
	cc, err := grpc.NewClient(p.GRPCAddr, grpcInsecure(), grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
		MinConnectTimeout: time.Second,
	}))
	if err != nil {
		return fmt.Errorf("wait for %s: %w", p.Name, err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	deadline := time.Now().Add(timeout)
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("health status %s", resp.GetStatus())
		}
		select {
		case <-p.exited:
			return fmt.Errorf("wait for %s: exited (%v) before it was ready; see %s", p.Name, p.err, p.LogPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %s: not ready after %s (last: %v); see %s", p.Name, timeout, last, p.LogPath)
		}
	}
}

// alive reports whether the process is still running.
func (p *serverProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop asks the process to terminate (SIGTERM), kills it if it is still
// running 15 seconds later, and closes its log.
func (p *serverProc) stop() error {
	defer p.log.Close()
	if !p.alive() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.Name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(15 * time.Second):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.Name, err)
	}
	<-p.exited
	return fmt.Errorf("stop %s: killed after ignoring SIGTERM for 15s", p.Name)
}
