package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/extauthz"
	"github.com/jwt-authz/jwt-authz/internal/logthrottle"
)

// decisionLog is the running decision log and the file it writes, when
// it writes one.
type decisionLog struct {
	*extauthz.DecisionLog
	file *os.File // nil for stderr
}

// openDecisionLog starts the decision log of cfg: nil when it is off. A
// file is opened for appending (created 0600), so that a log shipper or
// logrotate's copytruncate can follow it.
func openDecisionLog(cfg *config.Config, m *extauthz.Metrics, log *slog.Logger) (*decisionLog, error) {
	dc := cfg.DecisionLog
	if !dc.Enabled {
		return nil, nil
	}
	d := &decisionLog{}
	var w io.Writer = os.Stderr
	if dc.Path != "" {
		f, err := os.OpenFile(dc.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("decision_log.path: %w", err)
		}
		d.file, w = f, f
	}
	failures := logthrottle.New(log, slog.LevelWarn, "decision log write failed")
	d.DecisionLog = extauthz.NewDecisionLog(w, extauthz.DecisionLogOptions{
		SampleAllow: *dc.SampleAllow,
		SampleDeny:  *dc.SampleDeny,
	}, m, func(err error) { failures.Error(err) })
	return d, nil
}

// close flushes the lines still waiting and closes the file; call it once
// no Check is served any more.
func (d *decisionLog) close() {
	if d == nil {
		return
	}
	d.Close()
	if d.file != nil {
		_ = d.file.Close()
	}
}

// server is what the Check server is given: nil when the log is off.
func (d *decisionLog) server() *extauthz.DecisionLog {
	if d == nil {
		return nil
	}
	return d.DecisionLog
}
