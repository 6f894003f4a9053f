package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// procSample is one reading of a process's CPU time and memory.
type procSample struct {
	// CPUTicks is utime+stime of /proc/PID/stat, every thread included, in
	// USER_HZ: 1/100 s on every architecture Go supports on Linux.
	CPUTicks uint64 `json:"cpu_ticks"`
	// VmRSS and VmHWM (peak RSS) of /proc/PID/status, and the RSS split
	// into RssAnon (heap, stacks) and RssFile (pages of mapped files: the
	// executable, a bbolt database), in bytes.
	RSSBytes  uint64 `json:"rss_bytes"`
	HWMBytes  uint64 `json:"hwm_bytes"`
	AnonBytes uint64 `json:"rss_anon_bytes"`
	FileBytes uint64 `json:"rss_file_bytes"`
}

// readProc samples process pid.
func readProc(pid int) (procSample, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procSample{}, err
	}
	stat, err1 := p.Stat()
	st, err2 := p.NewStatus()
	if err := errors.Join(err1, err2); err != nil {
		return procSample{}, err
	}
	return procSample{CPUTicks: uint64(stat.UTime + stat.STime), RSSBytes: st.VmRSS, HWMBytes: st.VmHWM, AnonBytes: st.RssAnon, FileBytes: st.RssFile}, nil
}

// serverUsage is what a server spent during one measured window.
type serverUsage struct {
	PID                int     `json:"pid"`
	CPUSeconds         float64 `json:"cpu_seconds"`
	ChecksPerCPUSecond float64 `json:"checks_per_cpu_second"` // 0 when no CPU time was measured
	procSample                 // at the end of the window
}

// serverProc is a server started as a process of its own, so that /proc
// shows its CPU time and memory alone.
type serverProc struct {
	PID                             int
	GRPCAddr, AdminAddr, AdminToken string
	LogPath                         string // its stdout and stderr
	cancel                          context.CancelFunc
	exited                          chan struct{} // closed once it has exited
	err                             error         // how it exited, once exited is closed
}

// startProc starts argv with its output in logPath. Stopping it sends
// SIGTERM, and SIGKILL 15 seconds later.
func startProc(argv []string, logPath string) (*serverProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		logf.Close()
		return nil, err
	}
	p := &serverProc{PID: cmd.Process.Pid, LogPath: logPath, cancel: cancel, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// stop ends the process and waits until it has exited.
func (p *serverProc) stop() {
	p.cancel()
	<-p.exited
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

// waitReady waits until grpc.health.v1 on p.GRPCAddr reports SERVING, the
// process exits, or a minute passes.
func (p *serverProc) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	// A server still starting refuses connections: retry sooner than
	// grpc's default of a second.
	cc, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: time.Second}}))
	if err != nil {
		return err
	}
	defer cc.Close()
	stream, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	for err == nil {
		var resp *healthpb.HealthCheckResponse
		if resp, err = stream.Recv(); resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
	}
	if !p.alive() {
		return fmt.Errorf("exited before it was ready (%v); see %s", p.err, p.LogPath)
	}
	return fmt.Errorf("not ready: %w; see %s", err, p.LogPath)
}
